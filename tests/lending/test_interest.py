"""Interest accrues through indices from a kinked utilisation curve: slope1 up to the optimal
utilisation, the much steeper slope2 beyond it. A checkpoint (accrue, once a block, in force
from the next block) fixes the borrow rate from the utilisation at that moment; debts grow at
it until the next checkpoint, which shares the interest out: the reserve factor's part to the
reserves, the rest to suppliers. The contract agrees with the model exactly."""

from lending.deploy import DEFAULT_MARKETS, MARKET_BTC, MARKET_USDT
from lending.pool_model import (
    RAY,
    SECONDS_PER_YEAR,
    PoolModel,
    borrow_rate,
    div_up,
    grow,
    utilisation,
)

from .conftest import BTC_PRICE, USDT_PRICE, advance, block_number, mint_usdt, ok, timestamp

USDT = 10**8
CONFIG = DEFAULT_MARKETS[MARKET_USDT]


def test_the_curve_is_kinked_at_the_optimal_utilisation():
    optimal = CONFIG.optimal_utilisation_bps * RAY // 10_000
    below = borrow_rate(optimal, CONFIG) - borrow_rate(optimal - RAY // 100, CONFIG)
    above = borrow_rate(optimal + RAY // 100, CONFIG) - borrow_rate(optimal, CONFIG)
    assert borrow_rate(0, CONFIG) == CONFIG.base_rate_bps * RAY // 10_000
    assert borrow_rate(RAY, CONFIG) == (
        (CONFIG.base_rate_bps + CONFIG.slope1_bps + CONFIG.slope2_bps) * RAY // 10_000
    )
    assert above > 10 * below


def test_a_year_of_interest_grows_debt_reserves_and_supply_as_the_curve_says(
    lending, evm, usdt, users
):
    supplier, borrower, keeper = users[2], users[0], users[3]
    model = PoolModel(block=block_number(evm), time=timestamp(evm))
    model.prices = {0: BTC_PRICE, 1: USDT_PRICE}
    for market in (MARKET_BTC, MARKET_USDT):
        model.configure(market, DEFAULT_MARKETS[market])
    mint_usdt(evm, usdt, supplier, 100_000 * USDT)
    ok(lending.supply(supplier, MARKET_USDT, 100_000 * USDT))
    model.supply(supplier.address, MARKET_USDT, 100_000 * USDT)
    ok(lending.supply(borrower, MARKET_BTC, 3 * 10**8))
    model.supply(borrower.address, MARKET_BTC, 3 * 10**8)
    ok(lending.pool.transact(borrower, "borrow", MARKET_USDT, 95_000 * USDT))  # above the kink
    model.borrow(borrower.address, MARKET_USDT, 95_000 * USDT)
    assert lending.pool.call("rates", MARKET_USDT)[1] == borrow_rate(0, CONFIG)  # not yet

    ok(lending.pool.transact(keeper, "accrue", MARKET_USDT))
    model.accrue(MARKET_USDT)
    advance(evm, 1, 0)
    model.block += 1
    used, rate, supply_rate = lending.pool.call("rates", MARKET_USDT)
    assert used == utilisation(95_000 * USDT, 100_000 * USDT)
    assert rate == borrow_rate(used, CONFIG)
    assert supply_rate == rate * used // RAY * 9_000 // 10_000  # what suppliers earn of it

    advance(evm, 100, SECONDS_PER_YEAR)
    model.block, model.time = block_number(evm), timestamp(evm)
    debt = lending.pool.call("debt_balance", MARKET_USDT, borrower.address)
    assert debt == div_up(95_000 * USDT * grow(RAY, rate, SECONDS_PER_YEAR), RAY)
    assert debt == model.owed_by(MARKET_USDT, borrower.address)
    # Suppliers are credited at checkpoints only: what borrowers owe by then, shared out.
    assert lending.pool.call("supply_balance", MARKET_USDT, supplier.address) == 100_000 * USDT
    ok(lending.post_price(MARKET_BTC, BTC_PRICE))
    ok(lending.post_price(MARKET_USDT, USDT_PRICE))
    result = ok(lending.pool.transact(keeper, "accrue", MARKET_USDT))
    model.accrue(MARKET_USDT)
    [accrued] = lending.pool.events(result, "Accrued")
    interest = debt - 95_000 * USDT
    assert accrued["borrow_index"] == grow(RAY, rate, SECONDS_PER_YEAR)
    assert accrued["reserves_added"] == interest * CONFIG.reserve_factor_bps // 10_000
    advance(evm, 1, 0)
    model.block += 1

    supplied = lending.pool.call("supply_balance", MARKET_USDT, supplier.address)
    reserves = lending.pool.call("reserves", MARKET_USDT)
    assert supplied == model.supply_of(MARKET_USDT, supplier.address)
    assert reserves == model.reserves(MARKET_USDT)
    assert abs(reserves - interest // 10) <= 10  # the reserve factor's tenth, to rounding
    assert supplied + reserves <= 100_000 * USDT + interest <= supplied + reserves + 10
    assert lending.pool.call("deficit", MARKET_USDT) == 0
