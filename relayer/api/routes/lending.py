"""The lending pool: `GET /v1/markets` and `GET /v1/positions/{address}`, read from the node.

Both answer from one block (named in the answer). Amounts are base units (sats, USDT units,
10**-8 of a coin), prices and values USD with 8 decimals, rates yearly: rays as decimal
strings and basis points. A stale price is shown with `stale: true`; positions are weighed at
the stored prices then, and `liquidatable` is false (the pool refuses to act on them).
"""

from typing import Any

from aiohttp import web

from lending.pool_model import MAX_UINT, RAY, WAD
from lending.views import (
    ASSET_NAMES,
    LiquidationPrice,
    MarketView,
    PositionView,
    PriceView,
    Snapshot,
    read_markets,
    read_position,
)
from relayer.api import params
from relayer.api.context import CHAIN
from relayer.api.routes.respond import json_response
from relayer.api.views import Json

routes = web.RouteTableDef()
BPS_PER_RAY = RAY // 10_000


@routes.get("/v1/markets")
async def markets(request: web.Request) -> web.Response:
    params.only_known(request.query, set())
    snapshot = await Snapshot.latest(request.app[CHAIN].node)
    views = await read_markets(snapshot)
    return json_response(
        {
            "block": snapshot.block,
            "timestamp": snapshot.timestamp,
            "markets": [market_json(view) for view in views],
        }
    )


@routes.get("/v1/positions/{address}")
async def position(request: web.Request) -> web.Response:
    params.only_known(request.query, set())
    address = params.evm_address("address", request.match_info["address"])
    snapshot = await Snapshot.latest(request.app[CHAIN].node)
    view = await read_position(snapshot, address)
    return json_response({"block": snapshot.block, **position_json(view)})


def price_json(view: PriceView) -> Json:
    return {
        "asset": ASSET_NAMES[view.asset],
        "price": view.price,
        "timestamp": view.timestamp,
        "round": view.round,
        "age_seconds": view.age,
        "stale": view.stale,
    }


def rate_json(ray: int) -> Json:
    return {"ray": str(ray), "bps": ray // BPS_PER_RAY}


def market_json(view: MarketView) -> Json:
    config = view.config
    rates = None
    if view.rates is not None:
        utilisation, borrow, supply = view.rates
        rates = {
            "utilisation": rate_json(utilisation),
            "borrow_rate": rate_json(borrow),
            "supply_rate": rate_json(supply),
        }
    return {
        "id": view.market,
        "name": view.name,
        "asset": ASSET_NAMES[view.price.asset],
        "listed": config.listed,
        "borrowable": view.loanable,
        "price": price_json(view.price),
        "ltv_bps": config.ltv_bps,
        "liquidation_threshold_bps": config.liquidation_threshold_bps,
        "liquidation_bonus_bps": config.liquidation_bonus_bps,
        "reserve_factor_bps": config.reserve_factor_bps,
        "caps": {"supply": config.supply_cap or None, "borrow": config.borrow_cap or None},
        "rate_model": {
            "base_rate_bps": config.base_rate_bps,
            "slope1_bps": config.slope1_bps,
            "slope2_bps": config.slope2_bps,
            "optimal_utilisation_bps": config.optimal_utilisation_bps,
        },
        "rates": rates,
        "totals": view.totals,
    }


def liquidation_price_json(price: LiquidationPrice) -> Json:
    return {
        "asset": ASSET_NAMES[price.asset],
        "price": price.price,
        "when": "falls to" if price.falls else "rises to",
    }


def position_json(view: PositionView) -> dict[str, Any]:
    held = view.position
    factor = view.health_factor
    return {
        "address": view.account,
        "markets": [
            {"id": market, "collateral": holding.collateral, "debt": holding.owed}
            for market, holding in enumerate(view.holdings)
        ],
        "prices": [price_json(price) for price in view.prices],
        "borrow_power": held.power,
        "weighted_collateral": held.weighted,
        "debt_value": held.debt,
        "health_factor": None if factor == MAX_UINT else _wad(factor),
        "liquidatable": view.liquidatable,
        "liquidation_prices": [liquidation_price_json(p) for p in view.liquidation_prices()],
        "leverage_account": view.leverage_account,
    }


def _wad(value: int) -> str:
    """A WAD as a decimal string with 18 places (1.0 is "1.000000000000000000")."""
    whole, fraction = divmod(value, WAD)
    return f"{whole}.{fraction:018d}"
