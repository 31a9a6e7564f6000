"""The genesis: its TOML file, the genesis state and header, and `sluice node init` (also --dev).

A genesis file:

    chain_id = 5151
    gas_limit = 30_000_000
    base_fee = 1_000_000_000        # wei, the genesis block's base fee
    timestamp = 0                   # optional; 0 means "now" at init
    block_interval = 2.0            # seconds between blocks (optional)
    dev = false                     # a dev node also builds a block as soon as one is pending

    [federation]
    members = ["0x...", "0x...", "0x..."]   # EVM addresses that sign attestations
    threshold = 2

    [[accounts]]
    address = "0x..."
    balance = "100000000000000000000"        # wei (an integer or a decimal string)

    [bridge]                        # optional, like the two tables below
    withdrawal_fee_bps = 10         # fee on each withdrawal; paid to the restaking vaults

    [restaking]                     # delays and windows in sidechain blocks
    registry_delay = 302_400        # before a deregistration or commission rise applies
    unbonding_blocks = 302_400      # unstake to claim; must exceed claim_window + voting_blocks
    claim_window = 43_200           # a claim is open to challenges this long
    voting_blocks = 21_600          # a challenge is open to votes this long
    min_bond_wei = "10000000000000000"   # smallest challenge bond (a whole number of sats)
    slash_bps = 5_000               # stake a void claim takes from each of its operators
    reward_bps = 1_000              # the challenger's share of the slash
    operator_stake_sats = 0         # > 0: each member is an operator at genesis with this stake
    operator_commission_bps = 1_000

    [lending]
    governance = "0x..."            # lists and configures markets; required unless dev
    max_price_age = 3_600           # seconds a federation price stays usable
    max_deviation_bps = 1_000       # largest price move per round

A dev genesis (`dev = true`) defaults to short windows for a devnet (DEV_RESTAKING), the first
federation member as lending governance, and 1 BTC of genesis stake per member.

The genesis state holds the funded accounts, the beacon-roots (EIP-4788) and history (EIP-2935)
system contracts and every predeploy at its fixed address (sidechain.predeploys): USDT and the
Bridge, the restaking registry, vaults and court, the price oracle, lending pool and leverage
router. Then the governance key lists the lending markets (lending.deploy.DEFAULT_MARKETS) and,
when `operator_stake_sats` > 0, each federation member registers as an operator and stakes
that much BTC (minted for it at genesis) in the rsBTC vault, so the court can vote from block 1.
"""

import dataclasses
import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eth.abc import BlockHeaderAPI, ComputationAPI, StateAPI
from eth.constants import BLANK_ROOT_HASH, CREATE_CONTRACT_ADDRESS, ZERO_HASH32
from eth.db.atomic import AtomicDB
from eth.vm.chain_context import ChainContext
from eth.vm.forks.cancun.constants import BEACON_ROOTS_ADDRESS, BEACON_ROOTS_CONTRACT_CODE
from eth.vm.forks.prague.constants import HISTORY_STORAGE_ADDRESS, HISTORY_STORAGE_CONTRACT_CODE
from eth.vm.message import Message
from eth_abi import decode
from eth_account import Account
from eth_typing import Address
from eth_utils import is_hex_address, to_canonical_address, to_checksum_address

from lending import deploy as lending_deploy
from lending.deploy import DEFAULT_MARKETS, LendingParams
from restaking import deploy as restaking_deploy
from restaking.deploy import RestakingParams
from sidechain.contracts.artifacts import load_artifact
from sidechain.errors import GenesisError
from sidechain.predeploys import (
    BRIDGE_ADDRESS,
    BTC_VAULT_ADDRESS,
    COURT_ADDRESS,
    FEE_VAULT_ADDRESS,
    POOL_ADDRESS,
    REGISTRY_ADDRESS,
    SYSTEM_ADDRESS,
    USDT_ADDRESS,
    USDT_VAULT_ADDRESS,
)
from sidechain.store import WriteOverlay
from sidechain.vm import SluiceVM
from sluice.config import read_toml

DEV_CHAIN_ID = 5151
DEV_ACCOUNTS_FILE = "dev-accounts.json"
DEV_BALANCE = 10_000 * 10**18  # 10,000 BTC in wei per dev account
_DEPLOY_GAS = 30_000_000
_WEI_PER_SAT = 10**10
_ERROR_SELECTOR = bytes.fromhex("08c379a0")
DEFAULT_WITHDRAWAL_FEE_BPS = 10


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise GenesisError(message)


@dataclass(frozen=True)
class RestakingGenesis:
    """[restaking]: the contracts' settings, and the stake each federation member gets at
    genesis as an operator (0: members register themselves later)."""

    params: RestakingParams
    operator_stake_sats: int = 0
    operator_commission_bps: int = 1_000

    def __post_init__(self) -> None:
        p = self.params
        _check(
            p.unbonding_blocks > p.claim_window + p.voting_blocks,
            f"restaking.unbonding_blocks ({p.unbonding_blocks}) must exceed claim_window + "
            f"voting_blocks ({p.claim_window + p.voting_blocks})",
        )
        _check(p.registry_delay > 0, "restaking.registry_delay must be positive")
        _check(p.claim_window > 0 and p.voting_blocks > 0, "restaking windows must be positive")
        _check(
            p.min_bond_wei > 0 and p.min_bond_wei % _WEI_PER_SAT == 0,
            f"restaking.min_bond_wei must be a positive whole number of sats, got {p.min_bond_wei}",
        )
        _check(0 < p.slash_bps <= 10_000, f"restaking.slash_bps out of 1..10000: {p.slash_bps}")
        _check(0 <= p.reward_bps <= 10_000, f"restaking.reward_bps out of 0..10000: {p.reward_bps}")
        _check(self.operator_stake_sats >= 0, "restaking.operator_stake_sats must be >= 0")
        _check(
            0 <= self.operator_commission_bps <= 10_000,
            f"restaking.operator_commission_bps out of 0..10000: {self.operator_commission_bps}",
        )


# Sidechain blocks of 2 s: a week to unbond, a day to challenge, half a day to vote.
PRODUCTION_RESTAKING = RestakingGenesis(
    RestakingParams(
        registry_delay=302_400,
        unbonding_blocks=302_400,
        claim_window=43_200,
        voting_blocks=21_600,
        min_bond_wei=10**16,
        slash_bps=5_000,
        reward_bps=1_000,
    )
)
# A devnet's windows pass in a minute or two; each member stakes 1 BTC at genesis.
DEV_RESTAKING = RestakingGenesis(
    RestakingParams(
        registry_delay=10,
        unbonding_blocks=40,
        claim_window=20,
        voting_blocks=10,
        min_bond_wei=10**15,
        slash_bps=5_000,
        reward_bps=1_000,
    ),
    operator_stake_sats=10**8,
)
DEFAULT_MAX_PRICE_AGE = 3_600
DEFAULT_MAX_DEVIATION_BPS = 1_000


@dataclass(frozen=True)
class GenesisAccount:
    address: Address
    balance: int


@dataclass(frozen=True)
class Genesis:
    """What a chain starts from; stored in the data directory at init."""

    chain_id: int
    federation: tuple[Address, ...]
    threshold: int
    accounts: tuple[GenesisAccount, ...] = ()
    gas_limit: int = 30_000_000
    base_fee: int = 10**9
    timestamp: int = 0
    block_interval: float = 2.0
    dev: bool = False
    withdrawal_fee_bps: int = DEFAULT_WITHDRAWAL_FEE_BPS
    restaking: RestakingGenesis = PRODUCTION_RESTAKING
    # None (dev chains only): the first federation member governs, default price limits
    lending: LendingParams | None = None

    @property
    def lending_params(self) -> LendingParams:
        """The lending settings in force (the first member governs unless one was named)."""
        if self.lending is not None:
            return self.lending
        return LendingParams(self.federation[0], DEFAULT_MAX_PRICE_AGE, DEFAULT_MAX_DEVIATION_BPS)

    def __post_init__(self) -> None:
        if not 0 < self.chain_id < 2**64:
            raise GenesisError(f"chain_id must be a positive 64-bit integer, got {self.chain_id}")
        if not self.federation:
            raise GenesisError("federation.members must list at least one address")
        if len(set(self.federation)) != len(self.federation):
            raise GenesisError("federation.members has a duplicate address")
        if not 1 <= self.threshold <= len(self.federation):
            raise GenesisError(
                f"federation.threshold must be 1..{len(self.federation)}, got {self.threshold}"
            )
        if self.gas_limit < 5000:
            raise GenesisError(f"gas_limit must be at least 5000, got {self.gas_limit}")
        if self.base_fee < 0 or self.block_interval <= 0:
            raise GenesisError(
                f"base_fee must be >= 0 and block_interval > 0, got {self.base_fee}, "
                f"{self.block_interval}"
            )
        _check(
            self.dev or self.lending is not None,
            "genesis needs lending.governance (only a dev chain defaults it)",
        )
        _check(
            0 <= self.withdrawal_fee_bps < 10_000,
            f"bridge.withdrawal_fee_bps out of 0..9999: {self.withdrawal_fee_bps}",
        )
        lending = self.lending_params
        _check(lending.max_price_age > 0, "lending.max_price_age must be positive")
        _check(
            0 < lending.max_deviation_bps <= 10_000,
            f"lending.max_deviation_bps out of 1..10000: {lending.max_deviation_bps}",
        )

    def to_json(self) -> str:
        data = {
            key: value
            for key, value in asdict(self).items()
            if key not in ("restaking", "lending", "withdrawal_fee_bps")
        }
        data["federation"] = [to_checksum_address(member) for member in self.federation]
        data["accounts"] = [
            {"address": to_checksum_address(a.address), "balance": str(a.balance)}
            for a in self.accounts
        ]
        lending = self.lending_params
        data["bridge"] = {"withdrawal_fee_bps": self.withdrawal_fee_bps}
        data["restaking"] = {
            **asdict(self.restaking.params),
            "operator_stake_sats": self.restaking.operator_stake_sats,
            "operator_commission_bps": self.restaking.operator_commission_bps,
        }
        data["lending"] = {
            "governance": to_checksum_address(lending.governance),
            "max_price_age": lending.max_price_age,
            "max_deviation_bps": lending.max_deviation_bps,
        }
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Genesis":
        data = json.loads(text)
        federation = {"members": data.pop("federation"), "threshold": data.pop("threshold")}
        return cls.from_mapping({**data, "federation": federation})

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> "Genesis":
        """Build from a parsed TOML document; raises `GenesisError` naming the bad entry."""
        known = {
            "chain_id",
            "gas_limit",
            "base_fee",
            "timestamp",
            "block_interval",
            "dev",
            "federation",
            "accounts",
            "bridge",
            "restaking",
            "lending",
        }
        unknown = sorted(set(raw) - known)
        if unknown:
            raise GenesisError(f"unknown genesis entry {unknown[0]!r}")
        federation = raw.get("federation")
        if not isinstance(federation, Mapping):
            raise GenesisError("genesis needs a [federation] table with members and threshold")
        try:
            dev = bool(raw.get("dev", False))
            members = tuple(_address(m, "federation.members") for m in federation["members"])
            bridge = _table(raw, "bridge", {"withdrawal_fee_bps"})
            return cls(
                chain_id=int(raw["chain_id"]),
                federation=members,
                threshold=int(federation["threshold"]),
                accounts=tuple(_account(entry) for entry in raw.get("accounts", ())),
                gas_limit=int(raw.get("gas_limit", 30_000_000)),
                base_fee=int(raw.get("base_fee", 10**9)),
                timestamp=int(raw.get("timestamp", 0)),
                block_interval=float(raw.get("block_interval", 2.0)),
                dev=dev,
                withdrawal_fee_bps=int(
                    bridge.get("withdrawal_fee_bps", DEFAULT_WITHDRAWAL_FEE_BPS)
                ),
                restaking=_restaking(raw, DEV_RESTAKING if dev else PRODUCTION_RESTAKING),
                lending=_lending(raw, members, dev),
            )
        except KeyError as error:
            raise GenesisError(f"genesis is missing {error.args[0]!r}") from error
        except (TypeError, ValueError) as error:
            raise GenesisError(f"genesis has a malformed value: {error}") from error

    @classmethod
    def load(cls, path: Path) -> "Genesis":
        return cls.from_mapping(read_toml(path, "genesis file", GenesisError))


def _table(raw: Mapping[str, Any], name: str, known: set[str]) -> Mapping[str, Any]:
    """The optional [name] table, refusing keys it does not know."""
    table = raw.get(name, {})
    if not isinstance(table, Mapping):
        raise GenesisError(f"genesis entry {name!r} must be a table")
    unknown = sorted(set(table) - known)
    if unknown:
        raise GenesisError(f"unknown genesis entry {name}.{unknown[0]}")
    return table


def _restaking(raw: Mapping[str, Any], defaults: RestakingGenesis) -> RestakingGenesis:
    fields = {f.name for f in dataclasses.fields(RestakingParams)}
    extra = {"operator_stake_sats", "operator_commission_bps"}
    table = _table(raw, "restaking", fields | extra)
    params = dataclasses.replace(
        defaults.params, **{key: int(table[key]) for key in fields if key in table}
    )
    return RestakingGenesis(
        params,
        **{key: int(table.get(key, getattr(defaults, key))) for key in sorted(extra)},
    )


def _lending(
    raw: Mapping[str, Any], members: tuple[Address, ...], dev: bool
) -> LendingParams | None:
    table = _table(raw, "lending", {"governance", "max_price_age", "max_deviation_bps"})
    if "governance" not in table and not dev:
        return None  # refused by Genesis: only a dev chain defaults the governance
    if not table or not members:
        return None
    return LendingParams(
        governance=_address(table.get("governance", to_checksum_address(members[0])), "lending"),
        max_price_age=int(table.get("max_price_age", DEFAULT_MAX_PRICE_AGE)),
        max_deviation_bps=int(table.get("max_deviation_bps", DEFAULT_MAX_DEVIATION_BPS)),
    )


def _address(value: object, where: str) -> Address:
    if not isinstance(value, str) or not is_hex_address(value):
        raise GenesisError(f"{where}: not a hex address: {value!r}")
    return Address(to_canonical_address(value))


def _account(entry: object) -> GenesisAccount:
    if not isinstance(entry, Mapping):
        raise GenesisError(f"accounts entry must be a table, got {entry!r}")
    balance = int(entry.get("balance", 0))
    if balance < 0:
        raise GenesisError(f"accounts entry balance must be >= 0, got {balance}")
    return GenesisAccount(_address(entry.get("address"), "accounts.address"), balance)


@dataclass(frozen=True)
class GenesisBlock:
    """The genesis header and the state nodes that its state root needs."""

    header: BlockHeaderAPI
    state_writes: Mapping[bytes, bytes]


def build_genesis(genesis: Genesis) -> GenesisBlock:
    """Execute the genesis allocation, the predeploy constructors and the genesis calls; no
    store is touched."""
    timestamp = genesis.timestamp or int(time.time())
    template = SluiceVM.create_genesis_header(**_header_params(genesis, timestamp, BLANK_ROOT_HASH))
    overlay = WriteOverlay(AtomicDB())
    state = SluiceVM.build_state(AtomicDB(overlay), template, ChainContext(genesis.chain_id))
    apply_genesis(state, genesis)
    state.persist()
    header = SluiceVM.create_genesis_header(**_header_params(genesis, timestamp, state.state_root))
    return GenesisBlock(header, dict(overlay.writes))


def apply_genesis(state: StateAPI, genesis: Genesis) -> None:
    """Write the genesis into an empty state (the caller persists it): balances, system
    contracts, predeploys, then the genesis calls. Raises GenesisError naming what failed."""
    for account in genesis.accounts:
        state.set_balance(account.address, account.balance)
    for address, code in (
        (BEACON_ROOTS_ADDRESS, BEACON_ROOTS_CONTRACT_CODE),
        (HISTORY_STORAGE_ADDRESS, HISTORY_STORAGE_CONTRACT_CODE),
    ):
        state.set_code(address, code)
        state.set_nonce(address, 1)
    for address, payload in predeploy_payloads(genesis):
        _deploy(state, address, payload)
    for call in genesis_calls(genesis):
        state.delta_balance(call.sender, call.value)
        _run(state, call)


def predeploy_payloads(genesis: Genesis) -> tuple[tuple[Address, bytes], ...]:
    """(address, CREATE payload) of every predeploy, in deployment order."""
    bridge = load_artifact("Bridge").deploy_code(
        list(genesis.federation),
        genesis.threshold,
        USDT_ADDRESS,
        COURT_ADDRESS,
        BTC_VAULT_ADDRESS,
        USDT_VAULT_ADDRESS,
        genesis.withdrawal_fee_bps,
    )
    return (
        (USDT_ADDRESS, load_artifact("USDT").deploy_code(BRIDGE_ADDRESS)),
        (BRIDGE_ADDRESS, bridge),
        *restaking_deploy.deploy_payloads(genesis.restaking.params, BRIDGE_ADDRESS, USDT_ADDRESS),
        *lending_deploy.deploy_payloads(
            genesis.lending_params,
            BRIDGE_ADDRESS,
            USDT_ADDRESS,
            BTC_VAULT_ADDRESS,
            USDT_VAULT_ADDRESS,
        ),
    )


@dataclass(frozen=True)
class GenesisCall:
    """A call made at genesis as `sender` (no signature, no nonce), with `value` wei minted
    to the sender for it."""

    sender: Address
    to: Address
    data: bytes
    value: int = 0


def genesis_calls(genesis: Genesis) -> Iterator[GenesisCall]:
    """The governance key lists the lending markets; with genesis stake, each federation
    member registers as an operator and stakes its BTC in the rsBTC vault."""
    governance = genesis.lending_params.governance
    for market, config in sorted(DEFAULT_MARKETS.items()):
        yield GenesisCall(
            governance, POOL_ADDRESS, lending_deploy.configure_calldata(market, config)
        )
    stake = genesis.restaking.operator_stake_sats
    if stake == 0:
        return
    registry, vault = load_artifact("OperatorRegistry"), load_artifact("RestakingVault")
    for index, member in enumerate(genesis.federation):
        register = registry.calldata(
            "register", f"genesis:operator-{index}", genesis.restaking.operator_commission_bps
        )
        yield GenesisCall(member, REGISTRY_ADDRESS, register)
        deposit = vault.calldata("deposit", member, stake)
        yield GenesisCall(member, BTC_VAULT_ADDRESS, deposit, stake * _WEI_PER_SAT)


def _header_params(genesis: Genesis, timestamp: int, state_root: bytes) -> dict[str, Any]:
    return {
        "coinbase": FEE_VAULT_ADDRESS,
        "difficulty": 0,
        "gas_limit": genesis.gas_limit,
        "timestamp": timestamp,
        "base_fee_per_gas": genesis.base_fee,
        "parent_beacon_block_root": ZERO_HASH32,
        "state_root": state_root,
    }


def create_at(
    state: StateAPI, address: Address, deploy_code: bytes, gas: int = _DEPLOY_GAS
) -> ComputationAPI:
    """Run init code as a CREATE whose new account is `address` (a genesis-only privilege)."""
    message = Message(
        gas=gas,
        to=CREATE_CONTRACT_ADDRESS,
        sender=SYSTEM_ADDRESS,
        value=0,
        data=b"",
        code=deploy_code,
        create_address=address,
    )
    context = state.get_transaction_context_class()(gas_price=0, origin=SYSTEM_ADDRESS)
    return state.computation_class.apply_create_message(state, message, context)


def _deploy(state: StateAPI, address: Address, deploy_code: bytes) -> None:
    computation = create_at(state, address, deploy_code)
    if computation.is_error:
        raise GenesisError(
            f"deploying the contract at {to_checksum_address(address)} failed: "
            f"{_failure(computation)}"
        )


def _run(state: StateAPI, call: GenesisCall) -> None:
    message = Message(
        gas=_DEPLOY_GAS,
        to=call.to,
        sender=call.sender,
        value=call.value,
        data=call.data,
        code=state.get_code(call.to),
    )
    context = state.get_transaction_context_class()(gas_price=0, origin=call.sender)
    computation = state.computation_class.apply_message(state, message, context)
    if computation.is_error:
        raise GenesisError(
            f"genesis call from {to_checksum_address(call.sender)} to "
            f"{to_checksum_address(call.to)} failed: {_failure(computation)}"
        )


def _failure(computation: ComputationAPI) -> str:
    """The revert reason of a failed computation, or the error it raised."""
    output = computation.output
    if output.startswith(_ERROR_SELECTOR):
        return str(decode(["string"], output[4:])[0])
    return repr(computation.error)


@dataclass(frozen=True)
class DevAccount:
    address: str
    private_key: str = field(repr=False)


def dev_genesis(
    accounts: int = 10, chain_id: int = DEV_CHAIN_ID, members: int = 3, threshold: int = 2
) -> tuple[Genesis, list[DevAccount], list[DevAccount]]:
    """A development genesis: fresh funded accounts and a fresh federation (m-of-n keys).

    Returns the genesis, the funded accounts and the federation members (with their keys).
    """
    funded = [_new_account() for _ in range(accounts)]
    federation = [_new_account() for _ in range(members)]
    members = tuple(Address(to_canonical_address(m.address)) for m in federation)
    genesis = Genesis(
        chain_id=chain_id,
        federation=members,
        threshold=threshold,
        accounts=tuple(
            GenesisAccount(Address(to_canonical_address(a.address)), DEV_BALANCE) for a in funded
        ),
        block_interval=2.0,
        dev=True,
        restaking=DEV_RESTAKING,
    )
    return genesis, funded, federation


def _new_account() -> DevAccount:
    account = Account.create()
    return DevAccount(account.address, "0x" + bytes(account.key).hex())


def write_dev_accounts(path: Path, accounts: list[DevAccount]) -> None:
    """`DIR/dev-accounts.json`: a list of {"address", "private_key"}, readable by its owner only."""
    path.write_text(json.dumps([asdict(a) for a in accounts], indent=2) + "\n")
    path.chmod(0o600)
