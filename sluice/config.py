"""The one configuration object: a TOML file plus `SLUICE_<SECTION>_<KEY>` environment variables.

Nothing else in Sluice reads `os.environ`: `load_config` does, once, and each component gets
its own section (a frozen dataclass). Adding a setting is adding a typed field with a default.
"""

import dataclasses
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from bridge.bitcoin.omni.payload import MAINNET_USDT
from sluice.errors import ConfigError, SluiceError

ENV_PREFIX = "SLUICE_"
T = TypeVar("T")


@dataclass(frozen=True)
class BitcoinConfig:
    """How to reach bitcoind and how deep a payment must be before the bridge acts on it."""

    rpc_url: str = "http://127.0.0.1:18443"
    rpc_user: str | None = None
    rpc_password: str | None = field(default=None, repr=False)
    rpc_cookie_file: Path | None = None
    network: str = "regtest"
    confirmations: int = 6
    rpc_timeout: float = 30.0

    def __post_init__(self) -> None:
        if self.network not in ("regtest", "testnet", "signet", "mainnet"):
            raise ConfigError(
                f"bitcoin.network must be regtest, testnet, signet or mainnet, got {self.network!r}"
            )
        if self.confirmations < 1:
            raise ConfigError(f"bitcoin.confirmations must be >= 1, got {self.confirmations}")
        if self.rpc_timeout <= 0:
            raise ConfigError(f"bitcoin.rpc_timeout must be > 0, got {self.rpc_timeout}")


@dataclass(frozen=True)
class LedgerConfig:
    """Where the SQL ledger lives: a SQLAlchemy URL (SQLite by default, PostgreSQL by choice)."""

    url: str = "sqlite:///sluice-ledger.sqlite3"


@dataclass(frozen=True)
class NodeConfig:
    """The sidechain node: its data directory and JSON-RPC endpoint."""

    datadir: Path = Path("sluice-node")
    rpc_host: str = "127.0.0.1"
    rpc_port: int = 8545

    def __post_init__(self) -> None:
        if not 0 <= self.rpc_port <= 65535:
            raise ConfigError(f"node.rpc_port must be a TCP port (0-65535), got {self.rpc_port}")


@dataclass(frozen=True)
class BridgeConfig:
    """The federation and the deposit rules every member and the API agree on.

    `federation_pubkeys` are the members' compressed secp256k1 keys (hex) for the vault
    multisig; `threshold` of them sign. Minimums are in base units (sats, USDT units).
    """

    federation_pubkeys: tuple[str, ...] = ()
    threshold: int = 1
    min_deposit_sats: int = 10_000
    min_deposit_usdt: int = 1_000_000
    usdt_property_id: int = MAINNET_USDT
    refund_timeout_blocks: int = 144
    challenge_window_blocks: int = 6

    def __post_init__(self) -> None:
        if self.federation_pubkeys and not 1 <= self.threshold <= len(self.federation_pubkeys):
            raise ConfigError(
                f"bridge.threshold must be between 1 and {len(self.federation_pubkeys)} "
                f"(the number of federation keys), got {self.threshold}"
            )
        for name in ("min_deposit_sats", "min_deposit_usdt", "usdt_property_id"):
            if getattr(self, name) < 1:
                raise ConfigError(f"bridge.{name} must be >= 1, got {getattr(self, name)}")
        if self.challenge_window_blocks < 1:
            raise ConfigError(
                f"bridge.challenge_window_blocks must be >= 1, got {self.challenge_window_blocks}"
            )
        if not 1 <= self.refund_timeout_blocks <= 65535:
            raise ConfigError(
                f"bridge.refund_timeout_blocks must be 1..65535 (BIP68), "
                f"got {self.refund_timeout_blocks}"
            )


@dataclass(frozen=True)
class ApiConfig:
    """The REST API for bridge UIs: where it listens and what it lets through."""

    host: str = "127.0.0.1"
    port: int = 8080
    node_rpc_url: str = "http://127.0.0.1:8545"
    admin_token: str | None = field(default=None, repr=False)
    cors_origins: tuple[str, ...] = ()
    rate_limit_per_minute: int = 600
    max_body_bytes: int = 64 * 1024

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"api.port must be a TCP port (0-65535), got {self.port}")
        if self.rate_limit_per_minute < 1:
            raise ConfigError(
                f"api.rate_limit_per_minute must be >= 1, got {self.rate_limit_per_minute}"
            )
        if self.max_body_bytes < 1:
            raise ConfigError(f"api.max_body_bytes must be >= 1, got {self.max_body_bytes}")


@dataclass(frozen=True)
class RelayerConfig:
    """One federation member's relayer: who it is, its keys, its peers and its loops' pace.

    Keys come from `keys_file` (0600) or, when both are set, from `bitcoin_private_key` and
    `evm_private_key` (e.g. SLUICE_RELAYER_EVM_PRIVATE_KEY); they never appear in a repr.
    `peer_addresses[i]` (EVM address) signs the messages of the member serving `peer_urls[i]`.
    `crash_at` is a test-only fault hook: the process exits with 137 at that named step.
    """

    member_id: int = 1
    keys_file: Path | None = None
    bitcoin_private_key: str | None = field(default=None, repr=False)
    evm_private_key: str | None = field(default=None, repr=False)
    node_rpc_url: str = "http://127.0.0.1:8545"
    node_timeout: float = 10.0
    peer_addresses: tuple[str, ...] = ()
    peer_urls: tuple[str, ...] = ()
    signing_host: str = "127.0.0.1"
    signing_port: int = 0
    poll_interval: float = 1.0
    scan_start_height: int = 0
    resubmit_after: float = 5.0
    crash_at: str | None = None

    def __post_init__(self) -> None:
        if self.member_id < 1:
            raise ConfigError(f"relayer.member_id must be >= 1, got {self.member_id}")
        if len(self.peer_addresses) != len(self.peer_urls):
            raise ConfigError(
                f"relayer.peer_addresses ({len(self.peer_addresses)}) and relayer.peer_urls "
                f"({len(self.peer_urls)}) must list the same peers"
            )
        if not 0 <= self.signing_port <= 65535:
            raise ConfigError(
                f"relayer.signing_port must be a TCP port (0-65535), got {self.signing_port}"
            )
        for name in ("poll_interval", "node_timeout", "resubmit_after"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"relayer.{name} must be > 0, got {getattr(self, name)}")
        if self.scan_start_height < 0:
            raise ConfigError(
                f"relayer.scan_start_height must be >= 0, got {self.scan_start_height}"
            )


MAX_BATCH_LIMIT = 1_000  # outputs a standard transaction (100k vbytes) carries with room left


@dataclass(frozen=True)
class VaultConfig:
    """How the federation spends its vault on Bitcoin: releases, fee bumps, state anchors.

    Fee rates are in sat per 1000 vbytes; heights count Bitcoin blocks except
    `commitment_interval`, which counts sidechain blocks (K). The coordinator of a vault spend
    changes every `rotation_blocks` Bitcoin blocks, so a member that is down loses its turn.
    """

    fee_floor: int = 2_000  # the lowest fee rate used (regtest has no estimate, so it applies)
    max_fee_rate: int = 500_000  # a member refuses to sign a spend paying more
    fee_target_blocks: int = 6  # estimatesmartfee's confirmation target
    rbf_after_blocks: int = 3  # unconfirmed this many blocks after broadcast: bump the fee
    rbf_bump_percent: int = 125  # a replacement's fee rate, at least, against the replaced one
    max_batch: int = 200  # withdrawals paid by one release at most
    rotation_blocks: int = 10  # length of a coordinator's turn
    commitment_interval: int = 100  # K: anchor the state root every K sidechain blocks

    def __post_init__(self) -> None:
        for name in (
            "fee_floor",
            "fee_target_blocks",
            "rbf_after_blocks",
            "rotation_blocks",
            "commitment_interval",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"vault.{name} must be >= 1, got {getattr(self, name)}")
        if self.max_fee_rate < self.fee_floor:
            raise ConfigError(
                f"vault.max_fee_rate ({self.max_fee_rate}) must be >= vault.fee_floor "
                f"({self.fee_floor})"
            )
        if self.rbf_bump_percent <= 100:
            raise ConfigError(
                f"vault.rbf_bump_percent must be > 100 (a replacement pays more), "
                f"got {self.rbf_bump_percent}"
            )
        if not 1 <= self.max_batch <= MAX_BATCH_LIMIT:
            raise ConfigError(f"vault.max_batch must be 1..{MAX_BATCH_LIMIT}, got {self.max_batch}")


@dataclass(frozen=True)
class OracleConfig:
    """A federation member's price pusher (`sluice oracle push`), beside its relayer.

    The member's signing key, id and node come from [relayer]; `peer_urls[i]` is the
    co-signing endpoint of the member whose EVM address is `peer_addresses[i]`. Prices come from
    `source_file` (JSON `{"BTC": "60000.00", "USDT": "1"}`, USD per coin) or `source_command`
    (an argv printing that JSON). Posts are sent from the poster key (a funded account of
    its own: the member key's nonces belong to the relayer). Fractions are basis points.
    """

    source_file: Path | None = None
    source_command: tuple[str, ...] = ()
    host: str = "127.0.0.1"
    port: int = 0
    peer_addresses: tuple[str, ...] = ()
    peer_urls: tuple[str, ...] = ()
    poster_key_file: Path | None = None
    poster_private_key: str | None = field(default=None, repr=False)
    tolerance_bps: int = 50  # a price this far from the member's own observation is signed
    trigger_bps: int = 50  # post when the observation moved this far from the oracle's price
    heartbeat: float = 600.0  # post at least this often (seconds), below the oracle's max age
    takeover_after: float = 10.0  # the next member in the round's rotation posts after this
    poll_interval: float = 2.0
    max_clock_skew: int = 30  # seconds a report's timestamp may differ from this clock

    def __post_init__(self) -> None:
        if (self.source_file is None) == (not self.source_command):
            raise ConfigError(
                "oracle: set exactly one of oracle.source_file, oracle.source_command"
            )
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"oracle.port must be a TCP port (0-65535), got {self.port}")
        if len(self.peer_addresses) != len(self.peer_urls):
            raise ConfigError(
                f"oracle.peer_addresses ({len(self.peer_addresses)}) and oracle.peer_urls "
                f"({len(self.peer_urls)}) must list the same peers"
            )
        for name in ("tolerance_bps", "trigger_bps"):
            if not 0 < getattr(self, name) <= 10_000:
                raise ConfigError(f"oracle.{name} must be 1..10000, got {getattr(self, name)}")
        for name in ("heartbeat", "takeover_after", "poll_interval"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"oracle.{name} must be > 0, got {getattr(self, name)}")
        if self.max_clock_skew < 1:
            raise ConfigError(f"oracle.max_clock_skew must be >= 1, got {self.max_clock_skew}")


@dataclass(frozen=True)
class LiquidatorConfig:
    """The liquidator and accrual keeper (`sluice liquidator run`): its own funded account
    (`key_file`, or `private_key`), its checkpoint file, its node, its profit floor (USD with
    8 decimals, after gas). A dev node makes a block for each transaction, so a keeper there
    would make blocks of its own accrues one after another: `keeper_interval` spaces them."""

    node_rpc_url: str = "http://127.0.0.1:8545"
    node_timeout: float = 10.0
    key_file: Path | None = None
    private_key: str | None = field(default=None, repr=False)
    state_file: Path = Path("sluice-liquidator.json")
    start_block: int = 0  # the first block whose pool events are read
    poll_interval: float = 0.5
    keeper: bool = True  # call LendingPool.accrue for each loanable market every block
    keeper_interval: float = 0.0  # seconds a checkpoint stands at least (0: none; see below)
    min_profit: int = 0
    log_chunk_blocks: int = 2_000

    def __post_init__(self) -> None:
        if self.key_file is None and not self.private_key:
            raise ConfigError("liquidator: set liquidator.key_file or liquidator.private_key")
        for name in ("node_timeout", "poll_interval"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"liquidator.{name} must be > 0, got {getattr(self, name)}")
        for name in ("start_block", "min_profit", "keeper_interval"):
            if getattr(self, name) < 0:
                raise ConfigError(f"liquidator.{name} must be >= 0, got {getattr(self, name)}")
        if self.log_chunk_blocks < 1:
            raise ConfigError(
                f"liquidator.log_chunk_blocks must be >= 1, got {self.log_chunk_blocks}"
            )


@dataclass(frozen=True)
class WatcherConfig:
    """`sluice watcher run`: an independent checker of the federation's claims, with its own
    bitcoind ([bitcoin]: its `confirmations` is the depth a deposit must have), node and state.

    It re-executes the chain from `genesis_file` (the chain's genesis TOML) into `datadir`,
    where it also keeps its state file. Its account (`key_file`: a JSON with
    "evm_private_key", e.g. a member's keys.json, mode 0600; or `private_key`) posts bonded
    challenges (`bond_wei`, 0 for the court's minimum) when `challenge` is on, votes when it
    is an operator's key, resolves challenges and withdraws its payouts. The federation it
    checks is [bridge] (its keys say which coins are the vault's). `crash_at` is a test-only
    fault hook (one of relayer.daemon.CRASH_POINTS).
    """

    genesis_file: Path | None = None
    datadir: Path = Path("sluice-watcher")
    node_rpc_url: str = "http://127.0.0.1:8545"
    node_timeout: float = 10.0
    key_file: Path | None = None
    private_key: str | None = field(default=None, repr=False)
    challenge: bool = True
    bond_wei: int = 0
    poll_interval: float = 1.0
    crash_at: str | None = None

    def __post_init__(self) -> None:
        if self.genesis_file is None:
            raise ConfigError("watcher.genesis_file must name the chain's genesis TOML")
        if self.key_file is None and not self.private_key:
            raise ConfigError("watcher: set watcher.key_file or watcher.private_key")
        for name in ("node_timeout", "poll_interval"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"watcher.{name} must be > 0, got {getattr(self, name)}")
        if self.bond_wei < 0:
            raise ConfigError(f"watcher.bond_wei must be >= 0, got {self.bond_wei}")


@dataclass(frozen=True)
class Config:
    """All of Sluice's settings; each component takes the section it needs."""

    bitcoin: BitcoinConfig = field(default_factory=BitcoinConfig)
    ledger: LedgerConfig = field(default_factory=LedgerConfig)
    node: NodeConfig = field(default_factory=NodeConfig)
    bridge: BridgeConfig = field(default_factory=BridgeConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    relayer: RelayerConfig = field(default_factory=RelayerConfig)
    vault: VaultConfig = field(default_factory=VaultConfig)
    oracle: OracleConfig | None = None
    liquidator: LiquidatorConfig | None = None
    watcher: WatcherConfig | None = None


def load_config(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read `path` (if given), then apply `SLUICE_<SECTION>_<KEY>` overrides from `environ`."""
    raw = {} if path is None else read_toml(path, "config file", ConfigError)
    environ = os.environ if environ is None else environ
    for section in dataclasses.fields(Config):
        for setting in dataclasses.fields(_section_type(section)):
            name = f"{ENV_PREFIX}{section.name}_{setting.name}".upper()
            if name in environ:
                raw.setdefault(section.name, {})[setting.name] = environ[name]
    return _build(Config, raw, "")


def read_toml(path: Path, what: str, error: type[SluiceError]) -> dict[str, Any]:
    """Parse a TOML file; `error(...)` says which file (`what`) could not be read or parsed."""
    try:
        return tomllib.loads(path.read_text())
    except OSError as reason:
        raise error(f"cannot read {what} {path}: {reason.strerror}") from reason
    except tomllib.TOMLDecodeError as reason:
        raise error(f"{what} {path} is not valid TOML: {reason}") from reason


def _section_type(section: dataclasses.Field[Any]) -> type:
    """The section's dataclass (an optional section's, `X | None`, is X)."""
    hint = typing.get_type_hints(Config)[section.name]
    if isinstance(hint, types.UnionType):
        (hint,) = (arg for arg in typing.get_args(hint) if arg is not type(None))
    return typing.cast(type, hint)


def _build(cls: type[T], raw: Mapping[str, Any], where: str) -> T:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where.rstrip('.') or 'config'} must be a table, got {raw!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(
            f"unknown setting {where}{unknown[0]} (known: {', '.join(sorted(known))})"
        )
    values = {key: _coerce(hints[key], value, f"{where}{key}") for key, value in raw.items()}
    return cls(**values)


def _coerce(hint: Any, value: Any, where: str) -> Any:
    """Turn a TOML value or an environment string into the field's declared type."""
    if dataclasses.is_dataclass(hint):
        return _build(typing.cast(type, hint), value, f"{where}.")
    if isinstance(hint, types.UnionType):  # `X | None`
        if value is None or value == "":
            return None
        (inner,) = (arg for arg in typing.get_args(hint) if arg is not type(None))
        return _coerce(inner, value, where)
    if hint is bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("1", "true", "yes", "on"):
            return True
        if str(value).lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{where} must be true or false, got {value!r}")
    if typing.get_origin(hint) is tuple:
        items = value.split(",") if isinstance(value, str) else value
        (item_type, _) = typing.get_args(hint)
        return tuple(
            _coerce(item_type, item.strip() if isinstance(item, str) else item, where)
            for item in items
            if item != ""
        )
    try:
        return hint(value)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{where} must be {hint.__name__}, got {value!r}") from error
