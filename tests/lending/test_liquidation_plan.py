"""The liquidator's choice of liquidation, checked against the pool model (lending.pool_model):
the plan it makes repays and seizes exactly what the pool then settles; a healthy position and
an empty inventory make no plan; the close factor, the inventory, the collateral it may receive
bound the repayment; and the views' liquidation price is where the health factor crosses 1."""

from hypothesis import given, settings
from hypothesis import strategies as st

from lending.deploy import DEFAULT_MARKETS, MARKET_BTC, MARKET_RSBTC, MARKET_USDT
from lending.liquidation import Inventory, best_plan, gas_value
from lending.pool_model import WAD, Holding, PoolModel
from lending.views import PositionView, PriceView

BTC_PRICE = 60_000 * 10**8
UNIT = 10**8
ALL = frozenset(range(4))


def model_with_borrower(collateral_sats: int, debt_usdt: int) -> PoolModel:
    model = PoolModel(block=1, time=1_000, prices={0: BTC_PRICE, 1: UNIT})
    for market in (MARKET_BTC, MARKET_USDT):
        model.configure(market, DEFAULT_MARKETS[market])
    model.supply("lender", MARKET_USDT, 10**15)
    model.supply("borrower", MARKET_BTC, collateral_sats)
    if debt_usdt:
        model.borrow("borrower", MARKET_USDT, debt_usdt)
    return model


def view_of(model: PoolModel, account: str) -> PositionView:
    prices = tuple(PriceView(a, model.prices[a], 1_000, 1, 0, False) for a in (0, 1))
    holdings = tuple(
        Holding(
            DEFAULT_MARKETS[m],
            model.supply_of(m, account) if m in model.markets else 0,
            model.owed_by(m, account) if m in model.markets else 0,
            model.prices[m % 2],
        )
        for m in range(4)
    )
    return PositionView(account, holdings, prices, None)  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(
    collateral=st.integers(10**6, 10**9),
    used=st.integers(9_000, 10_000),
    drop=st.integers(500, 3_000),
    inventory=st.integers(1, 10**14),
)
def test_a_plan_is_what_the_pool_settles(collateral, used, drop, inventory):
    limit = collateral * BTC_PRICE // UNIT * 7_000 // 10_000
    model = model_with_borrower(collateral, limit * used // 10_000)
    model.prices[0] = BTC_PRICE * (10_000 - drop) // 10_000
    view = view_of(model, "borrower")
    assert view.liquidatable == (model.health_factor("borrower") < WAD)
    plan = best_plan(view, Inventory({MARKET_USDT: inventory}, ALL))
    if not view.liquidatable:
        assert plan is None
        return
    assert plan is not None and plan.debt_market == MARKET_USDT
    assert plan.offered <= inventory
    offered = plan.offered
    repaid, seized = model.liquidate("liquidator", "borrower", MARKET_USDT, MARKET_BTC, offered)
    assert (repaid, seized) == (plan.repaid, plan.seized)
    if seized == collateral:  # all of it: what the collateral could not cover is written off
        assert model.owed_by(MARKET_USDT, "borrower") == 0
    if plan.repaid >= 10**6:
        assert plan.gain > 0  # the bonus (below that, rounding may eat it)


def test_no_plan_without_inventory_or_a_receivable_collateral():
    model = model_with_borrower(UNIT, 41_900 * UNIT)
    model.prices[0] = 54_000 * 10**8
    view = view_of(model, "borrower")
    assert view.liquidatable
    assert best_plan(view, Inventory({MARKET_USDT: 0}, ALL)) is None
    assert best_plan(view, Inventory({MARKET_USDT: 10**12}, frozenset({MARKET_RSBTC}))) is None
    half = best_plan(view, Inventory({MARKET_USDT: 10**15}, ALL))
    assert half is not None and half.offered == model.owed_by(MARKET_USDT, "borrower") // 2


def test_the_liquidation_price_is_where_health_crosses_one():
    model = model_with_borrower(UNIT, 30_000 * UNIT)
    view = view_of(model, "borrower")
    price, usdt = view.liquidation_prices()
    assert (price.asset, price.falls) == (0, True)
    assert (usdt.asset, usdt.falls, usdt.price) == (1, False, 15 * 10**7)  # USDT at $1.50
    assert price.price == 40_000 * 10**8  # 0.75 * 1 BTC * 40,000 = 30,000
    model.prices[0] = price.price + 1
    assert model.health_factor("borrower") >= WAD
    model.prices[0] = price.price - 10**8
    assert model.health_factor("borrower") < WAD
    assert not view_of(model_with_borrower(UNIT, 0), "borrower").liquidation_prices()


def test_gas_is_valued_in_usd_rounded_up():
    assert gas_value(100_000, 10**9, BTC_PRICE) == 600_000_000  # 10,000 sats at 60,000: $6
    assert gas_value(1, 1, BTC_PRICE) == 60_000  # a wei costs a whole sat
