"""Liquidations: anyone may repay half the debt of a position below health factor 1 (all of it
below 0.95) and receives the collateral's worth plus the bonus; debt that no collateral is left
to cover is written off as bad debt, covered from reserves, the rest recorded as a deficit."""

import pytest

from lending.deploy import DEFAULT_MARKETS, MARKET_BTC, MARKET_USDT
from lending.pool_model import MAX_BPS, PRICE_UNIT

from .conftest import BTC_PRICE, USDT_PRICE, advance, mint_usdt, ok

BTC = 10**8
USDT = 10**8
BONUS = DEFAULT_MARKETS[MARKET_BTC].liquidation_bonus_bps


@pytest.fixture
def accounts(lending, evm, usdt, users):
    """(borrower with 1 BTC supplied, USDT supplier, liquidator holding USDT)."""
    borrower, supplier, liquidator = users[0], users[1], users[3]
    ok(lending.supply(borrower, MARKET_BTC, BTC))
    mint_usdt(evm, usdt, supplier, 100_000 * USDT)
    ok(lending.supply(supplier, MARKET_USDT, 100_000 * USDT))
    mint_usdt(evm, usdt, liquidator, 100_000 * USDT)
    return borrower, supplier, liquidator


def set_btc_price(lending, evm, price: int) -> None:
    """Walk the BTC price to `price` in rounds within the deviation limit."""
    current = lending.oracle.call("price", MARKET_BTC)
    while current != price:
        step = max(price, current * 85 // 100) if price < current else min(price, current * 6 // 5)
        advance(evm, 1, 12)
        ok(lending.post_price(MARKET_BTC, step))
        current = step


def owed(lending, account, market: int = MARKET_USDT) -> int:
    ok(lending.pool.transact(lending.governance, "accrue", market))
    return lending.pool.call("debt_balance", market, account.address)


def test_liquidation_repays_half_and_pays_the_bonus(lending, evm, usdt, accounts):
    borrower, _, liquidator = accounts
    ok(lending.pool.transact(borrower, "borrow", MARKET_USDT, 40_000 * USDT))
    set_btc_price(lending, evm, 52_000 * PRICE_UNIT)  # health factor 0.975
    debt = owed(lending, borrower)
    health = lending.pool.call("health_factor", borrower.address)
    assert 95 * 10**16 <= health < 10**18
    paid_before = usdt.call("balanceOf", liquidator.address)

    result = ok(lending.liquidate(liquidator, borrower.address, MARKET_USDT, MARKET_BTC, debt))

    [liquidated] = lending.pool.events(result, "Liquidated")
    repaid, seized = liquidated["repaid"], liquidated["seized"]
    assert repaid == debt * 5_000 // MAX_BPS  # the close factor caps the repayment
    assert usdt.call("balanceOf", liquidator.address) == paid_before - repaid
    expected = repaid * USDT_PRICE * (MAX_BPS + BONUS) // (MAX_BPS * 52_000 * PRICE_UNIT)
    assert seized == expected
    assert lending.pool.call("supply_balance", MARKET_BTC, liquidator.address) == seized
    assert lending.pool.call("supply_balance", MARKET_BTC, borrower.address) == BTC - seized
    seized_value = seized * 52_000 * PRICE_UNIT // PRICE_UNIT
    assert seized_value * MAX_BPS >= repaid * (MAX_BPS + BONUS) - 52_000 * PRICE_UNIT * MAX_BPS
    left = lending.pool.call("debt_balance", MARKET_USDT, borrower.address)
    assert debt - repaid <= left <= debt - repaid + 2  # debts round up, in the pool's favour
    assert lending.pool.call("health_factor", borrower.address) > health


def test_below_095_the_whole_debt_may_be_repaid(lending, evm, accounts):
    borrower, _, liquidator = accounts
    ok(lending.pool.transact(borrower, "borrow", MARKET_USDT, 40_000 * USDT))
    set_btc_price(lending, evm, 50_000 * PRICE_UNIT)  # health factor 0.9375
    debt = owed(lending, borrower)
    assert lending.pool.call("health_factor", borrower.address) < 95 * 10**16

    result = ok(lending.liquidate(liquidator, borrower.address, MARKET_USDT, MARKET_BTC, debt))

    [liquidated] = lending.pool.events(result, "Liquidated")
    assert liquidated["repaid"] == debt
    assert lending.pool.call("debt_balance", MARKET_USDT, borrower.address) == 0
    assert lending.pool.call("supply_balance", MARKET_BTC, borrower.address) > 0
    assert not lending.pool.events(result, "BadDebtWrittenOff")


def test_a_btc_debt_is_repaid_in_native_coin_and_the_excess_refunded(lending, evm, usdt, users):
    borrower, btc_supplier, liquidator = users[0], users[1], users[3]
    mint_usdt(evm, usdt, borrower, 70_000 * USDT)
    ok(lending.supply(borrower, MARKET_USDT, 70_000 * USDT))
    ok(lending.supply(btc_supplier, MARKET_BTC, 2 * BTC))
    ok(lending.pool.transact(borrower, "borrow", MARKET_BTC, 9 * BTC // 10))  # 54,000 USD
    set_btc_price(lending, evm, 68_000 * PRICE_UNIT)  # debt 61,200 USD > 70,000 * 0.85
    assert lending.pool.call("health_factor", borrower.address) < 10**18
    debt = owed(lending, borrower, MARKET_BTC)
    before = evm.state.get_balance(bytes.fromhex(liquidator.address[2:]))

    result = ok(lending.liquidate(liquidator, borrower.address, MARKET_BTC, MARKET_USDT, debt))

    [liquidated] = lending.pool.events(result, "Liquidated")
    fee = before - evm.state.get_balance(bytes.fromhex(liquidator.address[2:]))
    assert fee >= liquidated["repaid"] * 10**10  # only what was used left the liquidator
    assert fee < liquidated["repaid"] * 10**10 + 10**16
    assert (
        lending.pool.call("supply_balance", MARKET_USDT, liquidator.address)
        == (liquidated["seized"])
    )


def test_bad_debt_is_written_off_covered_by_reserves_and_the_rest_recorded(
    lending, evm, usdt, accounts
):
    borrower, _, liquidator = accounts
    ok(lending.pool.transact(borrower, "borrow", MARKET_USDT, 41_000 * USDT))
    ok(lending.pool.transact(liquidator, "accrue", MARKET_USDT))  # rates for the new debt
    advance(evm, 10, 30 * 86_400)  # a month of interest: reserves build up at the checkpoint
    ok(lending.post_price(MARKET_BTC, BTC_PRICE))
    ok(lending.post_price(MARKET_USDT, USDT_PRICE))
    set_btc_price(lending, evm, 40_000 * PRICE_UNIT)  # collateral 40,000 < debt 41,000+
    debt = owed(lending, borrower)
    reserves = lending.pool.call("reserves", MARKET_USDT)
    assert reserves > 0

    result = ok(lending.liquidate(liquidator, borrower.address, MARKET_USDT, MARKET_BTC, debt))

    [liquidated] = lending.pool.events(result, "Liquidated")
    assert liquidated["seized"] == BTC  # all the collateral
    [written_off] = lending.pool.events(result, "BadDebtWrittenOff")
    bad = debt - liquidated["repaid"]
    assert written_off["amount"] == bad > 0
    covered = min(bad, reserves)
    assert written_off["covered_by_reserves"] == covered
    assert lending.pool.call("bad_debt", MARKET_USDT) == bad
    # the reserves are a scaled balance: burning `covered` of it may round one unit more
    assert (
        reserves - covered - 1 <= lending.pool.call("reserves", MARKET_USDT) <= reserves - covered
    )
    # What the reserves did not cover shows as the deficit (less the interest that built up
    # since the last checkpoint, not yet shared out, which covers part of it).
    assert 0 < lending.pool.call("deficit", MARKET_USDT) <= bad - covered
    assert lending.pool.call("debt_balance", MARKET_USDT, borrower.address) == 0
    assert lending.pool.call("supply_balance", MARKET_BTC, borrower.address) == 0
    # Never hidden: what suppliers can claim is covered by cash, debt and the recorded deficit.
    claims = lending.pool.call("total_supplied", MARKET_USDT)
    cash = usdt.call("balanceOf", lending.pool.address)
    debt_left = lending.pool.call("total_borrowed", MARKET_USDT)
    left = lending.pool.call("reserves", MARKET_USDT)
    assert cash + debt_left + lending.pool.call("deficit", MARKET_USDT) >= claims + left
