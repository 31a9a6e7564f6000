"""The committed compiled artifacts of the predeployed contracts, and how to deploy them.

Constructor arguments (the genesis runs `deploy_code(...)` as a CREATE at the fixed address, so
immutables are set; `runtime_bytecode` is the code before the immutables are appended, for
reference only — install the code the constructor returns, never `runtime_bytecode` itself):

- `USDT(bridge_address: address)` — the Bridge, sole holder of the mint and burn rights;
  at genesis `predeploys.BRIDGE_ADDRESS`.
- `Bridge(members: address[], quorum: uint256, usdt_address: address)` — federation members'
  EVM addresses (1..32, distinct, non-zero), signatures required (1..len(members)), and the
  USDT token (at genesis `predeploys.USDT_ADDRESS`). Deposits are accepted only from
  `predeploys.SYSTEM_ADDRESS`, which is a constant of the contract.
- `OperatorRegistry(bridge_address: address, delay_blocks: uint256)` — the Bridge (its
  `is_member` decides who may register as an operator) and the sidechain blocks before a
  deregistration or a commission increase applies (> 0).
- `RestakingPurse(token_address: address)` — deployed only as an ERC-5202 blueprint
  (`restaking.deploy.blueprint_deploy_code`); each ERC-20 vault creates one per operator.
- `RestakingVault(vault_name: String[32], vault_symbol: String[8], asset_token: address,
  registry_address: address, court_address: address, unbonding: uint256,
  purse_blueprint_address: address)` — deployed twice: ("Restaked BTC", "rsBTC", zero address
  = native BTC, registry, court, unbonding blocks, zero address) and ("Restaked USDT", "rsUSDT",
  the USDT token, registry, court, unbonding blocks, the RestakingPurse blueprint).
- `ChallengeCourt(bridge_address, registry_address, btc_vault_address, usdt_vault_address:
  address, window_blocks, vote_blocks, bond_minimum, slash_fraction_bps,
  reward_fraction_bps: uint256, deficit_receiver_address: address)` — claim window and voting
  period in blocks, the smallest bond in wei (a multiple of 10**10), the fraction of stake
  slashed (1..10000 bps), the challenger's share of the slash (0..10000 bps), and who receives
  the rest of the slash (must accept native BTC and USDT). Vaults and court name each other,
  so all are deployed at fixed addresses, the vaults before the court: its constructor
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
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from eth_abi import encode

from sidechain.contracts.errors import UnknownContract

CONTRACTS_DIR = Path(__file__).parent
ARTIFACTS_DIR = CONTRACTS_DIR / "artifacts"
CONTRACT_NAMES = (
    "Bridge",
    "USDT",
    "OperatorRegistry",
    "RestakingPurse",
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
        )


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
