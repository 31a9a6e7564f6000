"""Deploy payloads of the restaking contracts at their fixed sidechain addresses.

Genesis (sidechain.genesis) runs them after USDT and the Bridge; a harness that builds its own
state may run them too. The Bridge, the vaults and the court name one another, so every
address is fixed in advance (sidechain.predeploys).
"""

from dataclasses import dataclass

from eth_typing import Address

from sidechain.contracts import load_artifact
from sidechain.predeploys import (
    BTC_VAULT_ADDRESS,
    COURT_ADDRESS,
    REGISTRY_ADDRESS,
    USDT_VAULT_ADDRESS,
)

ZERO_ADDRESS = Address(b"\x00" * 20)
# ERC-5202: a blueprint's code is 0xFE71 00 followed by the init code; it cannot be called.
_BLUEPRINT_PREAMBLE = b"\xfe\x71\x00"


@dataclass(frozen=True)
class RestakingAddresses:
    """Where genesis places the contracts; the vaults and the court name each other."""

    registry: Address = REGISTRY_ADDRESS
    btc_vault: Address = BTC_VAULT_ADDRESS
    usdt_vault: Address = USDT_VAULT_ADDRESS
    court: Address = COURT_ADDRESS


@dataclass(frozen=True)
class RestakingParams:
    """Deployment settings; delays and windows are in sidechain blocks, the bond in wei.

    `slash_bps` is what a void claim takes from each of its operators' stake, `reward_bps`
    the challenger's share of that."""

    registry_delay: int
    unbonding_blocks: int
    claim_window: int
    voting_blocks: int
    min_bond_wei: int
    slash_bps: int
    reward_bps: int


def blueprint_deploy_code(init_bytecode: bytes) -> bytes:
    """Init code that installs `init_bytecode` as an ERC-5202 blueprint (Vyper's layout)."""
    blueprint = _BLUEPRINT_PREAMBLE + init_bytecode
    size = len(blueprint).to_bytes(2, "big")
    # PUSH2 size, RETURNDATASIZE, DUP2, PUSH1 10, RETURNDATASIZE, CODECOPY, RETURN
    return b"\x61" + size + b"\x3d\x81\x60\x0a\x3d\x39\xf3" + blueprint


def deploy_payloads(
    params: RestakingParams,
    bridge: Address,
    usdt: Address,
    addresses: RestakingAddresses | None = None,
) -> tuple[tuple[Address, bytes], ...]:
    """(address, CREATE payload) of each contract, in an order that deploys cleanly."""
    addresses = addresses or RestakingAddresses()
    vault = load_artifact("RestakingVault")
    return (
        (
            addresses.registry,
            load_artifact("OperatorRegistry").deploy_code(bridge, params.registry_delay),
        ),
        (
            addresses.btc_vault,
            vault.deploy_code(
                "Restaked BTC",
                "rsBTC",
                ZERO_ADDRESS,
                addresses.registry,
                addresses.court,
                params.unbonding_blocks,
            ),
        ),
        (
            addresses.usdt_vault,
            vault.deploy_code(
                "Restaked USDT",
                "rsUSDT",
                usdt,
                addresses.registry,
                addresses.court,
                params.unbonding_blocks,
            ),
        ),
        (
            addresses.court,
            load_artifact("ChallengeCourt").deploy_code(
                bridge,
                addresses.registry,
                addresses.btc_vault,
                addresses.usdt_vault,
                params.claim_window,
                params.voting_blocks,
                params.min_bond_wei,
                params.slash_bps,
                params.reward_bps,
            ),
        ),
    )
