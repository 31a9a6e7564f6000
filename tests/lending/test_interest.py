"""Interest accrues through indices from a kinked utilisation curve: slope1 up to the optimal
utilisation, the much steeper slope2 beyond it; the reserve factor's share goes to reserves,
the rest to suppliers, and what borrowers owe grows with the borrow index."""

from lending.deploy import DEFAULT_MARKETS, MARKET_BTC, MARKET_USDT
from lending.pool_model import RAY, SECONDS_PER_YEAR, borrow_rate, div_up, grow, utilisation

from .conftest import BTC_PRICE, USDT_PRICE, advance, mint_usdt, ok

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
    supplier, borrower = users[2], users[0]
    mint_usdt(evm, usdt, supplier, 100_000 * USDT)
    ok(lending.supply(supplier, MARKET_USDT, 100_000 * USDT))
    ok(lending.supply(borrower, MARKET_BTC, 3 * 10**8))
    ok(lending.pool.transact(borrower, "borrow", MARKET_USDT, 95_000 * USDT))  # above the kink
    used, rate, supply_rate = lending.pool.call("rates", MARKET_USDT)
    assert used == utilisation(95_000 * USDT, 100_000 * USDT)
    assert rate == borrow_rate(used, CONFIG)
    assert 0 < supply_rate < rate

    advance(evm, 100, SECONDS_PER_YEAR)
    ok(lending.post_price(MARKET_BTC, BTC_PRICE))
    ok(lending.post_price(MARKET_USDT, USDT_PRICE))
    result = ok(lending.pool.transact(supplier, "accrue", MARKET_USDT))

    [accrued] = lending.pool.events(result, "Accrued")
    assert accrued["borrow_index"] == grow(RAY, rate, SECONDS_PER_YEAR)
    interest = 95_000 * USDT * rate // RAY  # simple interest over one year
    debt = lending.pool.call("debt_balance", MARKET_USDT, borrower.address)
    assert debt == 95_000 * USDT + div_up(95_000 * USDT * rate, RAY)  # debts round up
    reserves = lending.pool.call("reserves", MARKET_USDT)
    assert reserves == interest * CONFIG.reserve_factor_bps // 10_000
    supplied = lending.pool.call("supply_balance", MARKET_USDT, supplier.address)
    assert supplied == 100_000 * USDT + interest - reserves
