"""The committed compiled artifacts of the predeployed contracts, and how to deploy them.

Constructor arguments (the genesis runs `deploy_code(...)` as a CREATE at the fixed address, so
immutables are set; `runtime_bytecode` is the code before the immutables are appended, for
reference only — install the code the constructor returns, never `runtime_bytecode` itself):

- `USDT(bridge_address: address)` — the Bridge, sole holder of the mint and burn rights;
  at genesis `predeploys.BRIDGE_ADDRESS`.
- `Bridge(members: address[], quorum: uint256, usdt_address, court_address,
  btc_vault_address, usdt_vault_address: address, fee_bps: uint256)` — federation members'
  EVM addresses (1..32, distinct, non-zero), signatures required (1..len(members)), the
  USDT token, the ChallengeCourt every claim is recorded in, the rsBTC and rsUSDT vaults the
  withdrawal fees are paid to, and the withdrawal fee (0..9999 basis points). Deposits are
  accepted only from `predeploys.SYSTEM_ADDRESS`, which is a constant of the contract.
- `OperatorRegistry(bridge_address: address, delay_blocks: uint256)` — the Bridge (its
  `is_member` decides who may register as an operator) and the sidechain blocks before a
  deregistration or a commission increase applies (> 0).
- `RestakingVault(vault_name: String[32], vault_symbol: String[8], asset_token: address,
  registry_address: address, court_address: address, unbonding: uint256)` — deployed twice:
  ("Restaked BTC", "rsBTC", zero address = native BTC, registry, court, unbonding blocks)
  and ("Restaked USDT", "rsUSDT", the USDT token, registry, court, unbonding blocks).
- `ChallengeCourt(bridge_address, registry_address, btc_vault_address, usdt_vault_address:
  address, window_blocks, vote_blocks, bond_minimum, slash_fraction_bps,
  reward_fraction_bps: uint256)` — claim window and voting period in blocks, the smallest
  bond in wei (a multiple of 10**10), the fraction of stake slashed (1..10000 bps) and the
  challenger's share of the slash (0..10000 bps). Bridge, vaults and court name each other,
  so all sit at fixed addresses, the vaults deployed before the court: its constructor
  refuses vaults whose unbonding is not longer than the claim window plus the voting period.
- `PriceOracle(bridge_address: address, max_age_seconds: uint256, deviation_bps: uint256)` —
  the Bridge (its `is_member` and `threshold` decide whose signatures count and how many),
  the staleness limit of a price in seconds (> 0), and the largest move per round (1..10000
  basis points).
- `LendingPurse()` — deployed only as an ERC-5202 blueprint (`lending.deploy`); the lending
  pool creates one per account to hold its rsBTC and rsUSDT collateral.
- `LendingPool(governance_address, oracle_address, usdt_address, btc_vault_address,
  usdt_vault_address, purse_blueprint_address: address)` — the key that lists and configures
  markets, the PriceOracle, the USDT token, the rsBTC and rsUSDT RestakingVaults, and the
  LendingPurse blueprint. Markets are listed after deployment with `configure`.
- `LeverageAccount(owner_address, pool_address, vault_address, oracle_address: address)` —
  deployed only as an ERC-5202 blueprint (`lending.deploy`); the router creates one per user
  (the creator is its router) holding that user's leveraged rsBTC position in the pool.
- `LeverageRouter(pool_address, vault_address, oracle_address, account_blueprint_address:
  address)` — the LendingPool, the rsBTC RestakingVault, the PriceOracle and the
  LeverageAccount blueprint.

Each artifact also records the contract's storage layout (Vyper's), so `storage_slot` can
name the slot of a variable, a map entry or an array element (sidechain.predeploys uses it
for the counters the parallel executor merges).
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from eth_abi import decode, encode
from eth_utils import keccak

from sidechain.contracts.errors import UnknownContract, UnknownMember

CONTRACTS_DIR = Path(__file__).parent
ARTIFACTS_DIR = CONTRACTS_DIR / "artifacts"
CONTRACT_NAMES = (
    "Bridge",
    "USDT",
    "OperatorRegistry",
    "RestakingVault",
    "ChallengeCourt",
    "PriceOracle",
    "LendingPurse",
    "LendingPool",
    "LeverageAccount",
    "LeverageRouter",
)


@dataclass(frozen=True)
class ContractArtifact:
    """One compiled contract: what was compiled, with what, and the resulting code and ABI."""

    name: str
    compiler_version: str
    evm_version: str
    optimize: str
    source_sha256: str  # sha256 of <name>.vy
    integrity: str  # Vyper's integrity hash: the source and every module it imports
    abi: tuple[Mapping[str, Any], ...]
    init_bytecode: bytes
    runtime_bytecode: bytes
    storage_layout: Mapping[str, Mapping[str, Any]]  # variable -> {"type", "n_slots", "slot"}

    @property
    def constructor_types(self) -> tuple[str, ...]:
        """ABI types of the constructor's arguments, in order."""
        for entry in self.abi:
            if entry["type"] == "constructor":
                return tuple(arg["type"] for arg in entry["inputs"])
        return ()

    def deploy_code(self, *args: Any) -> bytes:
        """Init code followed by the ABI-encoded constructor arguments: the CREATE payload."""
        return self.init_bytecode + encode(list(self.constructor_types), list(args))

    def calldata(self, function: str, *args: Any) -> bytes:
        """The call data of `function(*args)` (structs as tuples, addresses as bytes or hex)."""
        types = _types(self._entry("function", function)["inputs"])
        selector = keccak(text=f"{function}({','.join(types)})")[:4]
        return selector + encode(types, list(args))

    def decode_output(self, function: str, data: bytes) -> tuple[Any, ...]:
        """The values `function` returned in `data`, in ABI order (structs as tuples)."""
        return tuple(decode(_types(self._entry("function", function)["outputs"]), data))

    def event_topic(self, event: str) -> bytes:
        """topic[0] of `event`'s logs."""
        return _event_topic(self._entry("event", event))

    def decode_event(self, topics: list[bytes], data: bytes) -> tuple[str, dict[str, Any]] | None:
        """(event name, arguments by name) of a log this contract emitted, or None for a log
        whose first topic is none of its events."""
        for entry in self.abi:
            if entry["type"] != "event" or not topics or _event_topic(entry) != topics[0]:
                continue
            plain = [arg for arg in entry["inputs"] if not arg["indexed"]]
            values = iter(decode(_types(plain), data))
            indexed = iter(topics[1:])
            args = {
                arg["name"]: (
                    decode(_types([arg]), next(indexed))[0] if arg["indexed"] else next(values)
                )
                for arg in entry["inputs"]
            }
            return entry["name"], args
        return None

    def _entry(self, kind: str, name: str) -> Mapping[str, Any]:
        for entry in self.abi:
            if entry["type"] == kind and entry["name"] == name:
                return entry
        raise UnknownMember(self.name, kind, name)

    def to_json(self) -> str:
        """The committed file's text (stable key order, so a rebuild is a byte-for-byte diff)."""
        return (
            json.dumps(
                {
                    "contract_name": self.name,
                    "compiler": "vyper",
                    "compiler_version": self.compiler_version,
                    "evm_version": self.evm_version,
                    "optimize": self.optimize,
                    "source_sha256": self.source_sha256,
                    "integrity": self.integrity,
                    "abi": list(self.abi),
                    "init_bytecode": "0x" + self.init_bytecode.hex(),
                    "runtime_bytecode": "0x" + self.runtime_bytecode.hex(),
                    "storage_layout": dict(self.storage_layout),
                },
                indent=2,
            )
            + "\n"
        )

    @classmethod
    def from_json(cls, text: str) -> "ContractArtifact":
        data = json.loads(text)
        return cls(
            name=data["contract_name"],
            compiler_version=data["compiler_version"],
            evm_version=data["evm_version"],
            optimize=data["optimize"],
            source_sha256=data["source_sha256"],
            integrity=data["integrity"],
            abi=tuple(data["abi"]),
            init_bytecode=bytes.fromhex(data["init_bytecode"].removeprefix("0x")),
            runtime_bytecode=bytes.fromhex(data["runtime_bytecode"].removeprefix("0x")),
            storage_layout=data["storage_layout"],
        )

    def storage_slot(self, variable: str, *keys: int | bytes) -> int:
        """The slot of a storage variable, of a map entry (`keys` are the map keys, an address
        or bytes32 as bytes, a number as int) or of a fixed array's element (an int index).

        Vyper places map[key] at keccak256(slot ++ key) and array[i] at slot + i (one-slot
        elements); raises UnknownMember for a name the contract does not have."""
        entry = self.storage_layout.get(variable)
        if entry is None:
            raise UnknownMember(self.name, "storage variable", variable)
        slot = int(entry["slot"])
        kind = str(entry["type"])
        for key in keys:
            if kind.startswith("HashMap["):
                word = key.rjust(32, b"\x00") if isinstance(key, bytes) else key.to_bytes(32, "big")
                slot = int.from_bytes(keccak(slot.to_bytes(32, "big") + word), "big")
                kind = kind[len("HashMap[") : -1].split(", ", 1)[1]
            else:
                slot += int(key)
        return slot


def _types(params: list[Mapping[str, Any]]) -> list[str]:
    """ABI type strings of function or event parameters, structs as tuples."""
    return [_type(param) for param in params]


def _type(param: Mapping[str, Any]) -> str:
    if param["type"].startswith("tuple"):
        return "(" + ",".join(_types(param["components"])) + ")" + param["type"][len("tuple") :]
    return str(param["type"])


def _event_topic(entry: Mapping[str, Any]) -> bytes:
    return keccak(text=f"{entry['name']}({','.join(_types(entry['inputs']))})")


def artifact_path(name: str) -> Path:
    """Where the artifact of contract `name` is committed."""
    return ARTIFACTS_DIR / f"{_known(name)}.json"


def source_path(name: str) -> Path:
    """The Vyper source of contract `name`."""
    return CONTRACTS_DIR / f"{_known(name)}.vy"


def _known(name: str) -> str:
    if name not in CONTRACT_NAMES:
        raise UnknownContract(name, CONTRACT_NAMES)
    return name


@cache
def load_artifact(name: str) -> ContractArtifact:
    """The committed artifact of contract `name` (one of CONTRACT_NAMES); no compiler needed."""
    return ContractArtifact.from_json(artifact_path(name).read_text())
