"""Fixed addresses on the sidechain: the system sender and the contracts placed at genesis.

Every genesis contract sits at 0x51000…00NN. Bridge and USDT make the bridge; 03..06 are the
restaking system (sidechain/contracts/{OperatorRegistry,RestakingVault,ChallengeCourt}.vy) and
08..0c the lending system (PriceOracle, LendingPool, LeverageRouter and their blueprints).
"""

from functools import cache

from eth_typing import Address
from eth_utils import to_canonical_address

from sidechain.contracts.artifacts import load_artifact

MAX_OPERATORS = 32  # the registry's (and the Bridge's federation's) size limit
LOANABLE_MARKETS = (0, 1)  # the lending pool's BTC and USDT markets


def _predeploy(last_byte: int) -> Address:
    return Address(bytes.fromhex("51") + bytes(18) + bytes([last_byte]))


# Sender of system transactions (deposits): no key exists for it, no nonce, no fee.
SYSTEM_ADDRESS: Address = to_canonical_address("0xfffffffffffffffffffffffffffffffffffffffe")
# Receives base fees and priority fees at block end, so no BTC leaves the sidechain's supply.
FEE_VAULT_ADDRESS: Address = _predeploy(0x00)
BRIDGE_ADDRESS: Address = _predeploy(0x01)
USDT_ADDRESS: Address = _predeploy(0x02)
REGISTRY_ADDRESS: Address = _predeploy(0x03)
BTC_VAULT_ADDRESS: Address = _predeploy(0x04)  # rsBTC
USDT_VAULT_ADDRESS: Address = _predeploy(0x05)  # rsUSDT
COURT_ADDRESS: Address = _predeploy(0x06)
ORACLE_ADDRESS: Address = _predeploy(0x08)
LENDING_PURSE_BLUEPRINT_ADDRESS: Address = _predeploy(0x09)
POOL_ADDRESS: Address = _predeploy(0x0A)
LEVERAGE_ACCOUNT_BLUEPRINT_ADDRESS: Address = _predeploy(0x0B)
LEVERAGE_ROUTER_ADDRESS: Address = _predeploy(0x0C)


@cache
def counter_slots() -> tuple[tuple[Address, int], ...]:
    """(contract, slot) of every commutative counter among the predeploys' storage: slots that
    operations only add to and subtract from (checked arithmetic aside, never branched on or
    logged), so the parallel executor may merge their updates as deltas
    (`ParallelExecutor(counter_slots=...)`) instead of serializing the transactions:
    the restaking vaults' per-operator share totals, the lending pool's scaled totals, and
    the USDT balances of the rsUSDT vault and of the pool."""
    usdt = load_artifact("USDT")
    vault = load_artifact("RestakingVault")
    pool = load_artifact("LendingPool")
    slots: list[tuple[Address, int]] = [
        (USDT_ADDRESS, usdt.storage_slot("balanceOf", holder))
        for holder in (USDT_VAULT_ADDRESS, POOL_ADDRESS)
    ]
    for address in (BTC_VAULT_ADDRESS, USDT_VAULT_ADDRESS):
        for name in ("active_shares", "queued_shares"):
            slots += [(address, vault.storage_slot(name, i)) for i in range(MAX_OPERATORS)]
    for name in ("total_scaled_supply", "total_scaled_debt"):
        slots += [(POOL_ADDRESS, pool.storage_slot(name, market)) for market in LOANABLE_MARKETS]
    return tuple(slots)
