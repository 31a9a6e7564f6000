"""Deploy payloads of the lending contracts at their fixed sidechain addresses; market configs.

Genesis (sidechain.genesis) runs the payloads after the restaking contracts and then lists
every market of DEFAULT_MARKETS from the governance key (`configure_calldata`).
"""

from dataclasses import dataclass

from eth_typing import Address

from lending.pool_model import MarketConfig
from restaking.deploy import blueprint_deploy_code
from sidechain.contracts import load_artifact
from sidechain.predeploys import (
    LENDING_PURSE_BLUEPRINT_ADDRESS,
    LEVERAGE_ACCOUNT_BLUEPRINT_ADDRESS,
    LEVERAGE_ROUTER_ADDRESS,
    ORACLE_ADDRESS,
    POOL_ADDRESS,
)

MARKET_BTC, MARKET_USDT, MARKET_RSBTC, MARKET_RSUSDT = range(4)

# Collateral-heavy BTC, a stablecoin with a steeper curve, restaking tokens as collateral only:
# a borrowable restaking token would let an operator short its own stake (borrow its rsBTC,
# sell it, cheat, be slashed, buy back cheaper), hedging away the slash that secures the bridge,
# and a pool of one market's rsX could not even hold shares of several operators.
DEFAULT_MARKETS: dict[int, MarketConfig] = {
    MARKET_BTC: MarketConfig(
        ltv_bps=7_000,
        liquidation_threshold_bps=7_500,
        liquidation_bonus_bps=500,
        reserve_factor_bps=1_000,
        base_rate_bps=0,
        slope1_bps=400,
        slope2_bps=30_000,
        optimal_utilisation_bps=8_000,
    ),
    MARKET_USDT: MarketConfig(
        ltv_bps=8_000,
        liquidation_threshold_bps=8_500,
        liquidation_bonus_bps=400,
        reserve_factor_bps=1_000,
        base_rate_bps=0,
        slope1_bps=600,
        slope2_bps=60_000,
        optimal_utilisation_bps=9_000,
    ),
    # BTC debt against rsBTC moves with one price: high limits, as for correlated assets.
    MARKET_RSBTC: MarketConfig(
        ltv_bps=7_500, liquidation_threshold_bps=8_000, liquidation_bonus_bps=500
    ),
    MARKET_RSUSDT: MarketConfig(
        ltv_bps=7_500, liquidation_threshold_bps=8_000, liquidation_bonus_bps=500
    ),
}


@dataclass(frozen=True)
class LendingAddresses:
    """Where genesis places the lending contracts."""

    oracle: Address = ORACLE_ADDRESS
    purse_blueprint: Address = LENDING_PURSE_BLUEPRINT_ADDRESS
    pool: Address = POOL_ADDRESS
    leverage_account_blueprint: Address = LEVERAGE_ACCOUNT_BLUEPRINT_ADDRESS
    leverage_router: Address = LEVERAGE_ROUTER_ADDRESS


@dataclass(frozen=True)
class LendingParams:
    """Deployment settings: the governance key, price staleness (seconds), deviation per round."""

    governance: Address
    max_price_age: int
    max_deviation_bps: int


def configure_calldata(market: int, config: MarketConfig) -> bytes:
    """`LendingPool.configure(market, config)`, to be sent by the governance key."""
    return load_artifact("LendingPool").calldata("configure", market, config.as_tuple())


def deploy_payloads(
    params: LendingParams,
    bridge: Address,
    usdt: Address,
    btc_vault: Address,
    usdt_vault: Address,
    addresses: LendingAddresses | None = None,
) -> tuple[tuple[Address, bytes], ...]:
    """(address, CREATE payload) of each contract, in an order that deploys cleanly.

    Markets are listed afterwards by the governance key (`LendingPool.configure`)."""
    addresses = addresses or LendingAddresses()
    oracle = load_artifact("PriceOracle").deploy_code(
        bridge, params.max_price_age, params.max_deviation_bps
    )
    pool = load_artifact("LendingPool").deploy_code(
        params.governance, addresses.oracle, usdt, btc_vault, usdt_vault, addresses.purse_blueprint
    )
    router = load_artifact("LeverageRouter").deploy_code(
        addresses.pool, btc_vault, addresses.oracle, addresses.leverage_account_blueprint
    )
    return (
        (addresses.oracle, oracle),
        (
            addresses.purse_blueprint,
            blueprint_deploy_code(load_artifact("LendingPurse").init_bytecode),
        ),
        (addresses.pool, pool),
        (
            addresses.leverage_account_blueprint,
            blueprint_deploy_code(load_artifact("LeverageAccount").init_bytecode),
        ),
        (addresses.leverage_router, router),
    )
