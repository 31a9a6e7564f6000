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

The genesis state holds the funded accounts, the beacon-roots (EIP-4788) and history (EIP-2935)
system contracts, and the Bridge and USDT contracts, deployed at their fixed addresses by running
their init code with the federation as constructor arguments.
"""

import json
import time
from collections.abc import Mapping
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
from eth_account import Account
from eth_typing import Address
from eth_utils import is_hex_address, to_canonical_address, to_checksum_address

from sidechain.contracts.artifacts import load_artifact
from sidechain.errors import GenesisError
from sidechain.predeploys import (
    BRIDGE_ADDRESS,
    FEE_VAULT_ADDRESS,
    SYSTEM_ADDRESS,
    USDT_ADDRESS,
)
from sidechain.store import WriteOverlay
from sidechain.vm import SluiceVM
from sluice.config import read_toml

DEV_CHAIN_ID = 5151
DEV_ACCOUNTS_FILE = "dev-accounts.json"
DEV_BALANCE = 10_000 * 10**18  # 10,000 BTC in wei per dev account
_DEPLOY_GAS = 30_000_000


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

    def to_json(self) -> str:
        data = asdict(self)
        data["federation"] = [to_checksum_address(member) for member in self.federation]
        data["accounts"] = [
            {"address": to_checksum_address(a.address), "balance": str(a.balance)}
            for a in self.accounts
        ]
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
        }
        unknown = sorted(set(raw) - known)
        if unknown:
            raise GenesisError(f"unknown genesis entry {unknown[0]!r}")
        federation = raw.get("federation")
        if not isinstance(federation, Mapping):
            raise GenesisError("genesis needs a [federation] table with members and threshold")
        try:
            return cls(
                chain_id=int(raw["chain_id"]),
                federation=tuple(_address(m, "federation.members") for m in federation["members"]),
                threshold=int(federation["threshold"]),
                accounts=tuple(_account(entry) for entry in raw.get("accounts", ())),
                gas_limit=int(raw.get("gas_limit", 30_000_000)),
                base_fee=int(raw.get("base_fee", 10**9)),
                timestamp=int(raw.get("timestamp", 0)),
                block_interval=float(raw.get("block_interval", 2.0)),
                dev=bool(raw.get("dev", False)),
            )
        except KeyError as error:
            raise GenesisError(f"genesis is missing {error.args[0]!r}") from error
        except (TypeError, ValueError) as error:
            raise GenesisError(f"genesis has a malformed value: {error}") from error

    @classmethod
    def load(cls, path: Path) -> "Genesis":
        return cls.from_mapping(read_toml(path, "genesis file", GenesisError))


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
    """Execute the genesis allocation and the predeploy constructors; no store is touched."""
    timestamp = genesis.timestamp or int(time.time())
    template = SluiceVM.create_genesis_header(**_header_params(genesis, timestamp, BLANK_ROOT_HASH))
    overlay = WriteOverlay(AtomicDB())
    state = SluiceVM.build_state(AtomicDB(overlay), template, ChainContext(genesis.chain_id))
    for account in genesis.accounts:
        state.set_balance(account.address, account.balance)
    for address, code in (
        (BEACON_ROOTS_ADDRESS, BEACON_ROOTS_CONTRACT_CODE),
        (HISTORY_STORAGE_ADDRESS, HISTORY_STORAGE_CONTRACT_CODE),
    ):
        state.set_code(address, code)
        state.set_nonce(address, 1)
    _deploy(state, USDT_ADDRESS, load_artifact("USDT").deploy_code(BRIDGE_ADDRESS))
    bridge_code = load_artifact("Bridge").deploy_code(
        list(genesis.federation), genesis.threshold, USDT_ADDRESS
    )
    _deploy(state, BRIDGE_ADDRESS, bridge_code)
    state.persist()
    header = SluiceVM.create_genesis_header(**_header_params(genesis, timestamp, state.state_root))
    return GenesisBlock(header, dict(overlay.writes))


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
            f"{computation.error!r}"
        )


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
    genesis = Genesis(
        chain_id=chain_id,
        federation=tuple(Address(to_canonical_address(m.address)) for m in federation),
        threshold=threshold,
        accounts=tuple(
            GenesisAccount(Address(to_canonical_address(a.address)), DEV_BALANCE) for a in funded
        ),
        block_interval=2.0,
        dev=True,
    )
    return genesis, funded, federation


def _new_account() -> DevAccount:
    account = Account.create()
    return DevAccount(account.address, "0x" + bytes(account.key).hex())


def write_dev_accounts(path: Path, accounts: list[DevAccount]) -> None:
    """`DIR/dev-accounts.json`: a list of {"address", "private_key"}, readable by its owner only."""
    path.write_text(json.dumps([asdict(a) for a in accounts], indent=2) + "\n")
    path.chmod(0o600)
