"""Deploy payloads of the restaking contracts at their fixed sidechain addresses."""

from dataclasses import dataclass

from eth_typing import Address

from sidechain.contracts import load_artifact

ZERO_ADDRESS = Address(b"\x00" * 20)
# ERC-5202: a blueprint's code is 0xFE71 00 followed by the init code; it cannot be called.
_BLUEPRINT_PREAMBLE = b"\xfe\x71\x00"


def _predeploy(last_byte: int) -> Address:
    """The genesis contracts sit at 0x51000…00NN (sidechain.predeploys uses 00, 01 and 02)."""
    return Address(bytes.fromhex("51") + bytes(18) + bytes([last_byte]))


REGISTRY_ADDRESS = _predeploy(0x03)
BTC_VAULT_ADDRESS = _predeploy(0x04)
USDT_VAULT_ADDRESS = _predeploy(0x05)
COURT_ADDRESS = _predeploy(0x06)
PURSE_BLUEPRINT_ADDRESS = _predeploy(0x07)


@dataclass(frozen=True)
class RestakingAddresses:
    """Where genesis places the contracts; the vaults and the court name each other."""

    registry: Address = REGISTRY_ADDRESS
    btc_vault: Address = BTC_VAULT_ADDRESS
    usdt_vault: Address = USDT_VAULT_ADDRESS
    court: Address = COURT_ADDRESS
    purse_blueprint: Address = PURSE_BLUEPRINT_ADDRESS


@dataclass(frozen=True)
class RestakingParams:
    """Deployment settings; delays and windows are in sidechain blocks, the bond in wei."""

    registry_delay: int
    unbonding_blocks: int
    claim_window: int
    voting_blocks: int
    min_bond_wei: int
    slash_bps: int
    reward_bps: int
    deficit_receiver: Address


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
            addresses.purse_blueprint,
            blueprint_deploy_code(load_artifact("RestakingPurse").init_bytecode),
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
                ZERO_ADDRESS,
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
                addresses.purse_blueprint,
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
                params.deficit_receiver,
            ),
        ),
    )
