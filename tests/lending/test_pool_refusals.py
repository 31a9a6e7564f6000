"""Operations the pool must refuse, each with a clear reason and no change of state: a borrow
over the loan-to-value limit, a withdrawal below health factor 1, a liquidation of a healthy
position, a borrow on a stale price, caps, collateral-only markets, governance-only calls."""

import pytest

from lending.deploy import DEFAULT_MARKETS, MARKET_BTC, MARKET_RSBTC, MARKET_USDT
from lending.pool_model import PRICE_UNIT

from .conftest import BTC_PRICE, MAX_PRICE_AGE, MAX_UINT, advance, fingerprint, mint_usdt, ok

BTC = 10**8  # one BTC in sats


@pytest.fixture
def borrower(lending, evm, usdt, users):
    """users[0] supplied 1 BTC; users[1] supplied 100,000 USDT of liquidity."""
    ok(lending.supply(users[0], MARKET_BTC, BTC))
    mint_usdt(evm, usdt, users[1], 10**13)
    ok(lending.supply(users[1], MARKET_USDT, 10**13))
    return users[0]


def state_of(lending, account) -> list:
    views = [("indices", MARKET_BTC), ("indices", MARKET_USDT), ("reserves", MARKET_USDT)]
    for market in (MARKET_BTC, MARKET_USDT):
        views += [("scaled_supply", market, account), ("scaled_debt", market, account)]
    return fingerprint(lending.pool, views)


def refused(lending, account, reason: str, name: str, *args, value: int = 0) -> None:
    before = state_of(lending, account.address)
    result = lending.pool.transact(account, name, *args, value=value)
    assert result.revert_reason == reason
    assert state_of(lending, account.address) == before


def limit(market_ltv_bps: int) -> int:
    """USDT base units one BTC of collateral can borrow at the test price."""
    return BTC * BTC_PRICE // PRICE_UNIT * market_ltv_bps // 10_000 * PRICE_UNIT // 10**8


def test_a_borrow_over_the_loan_to_value_limit_is_refused(lending, borrower):
    most = limit(DEFAULT_MARKETS[MARKET_BTC].ltv_bps)
    refused(
        lending,
        borrower,
        "borrow exceeds the loan-to-value limit",
        "borrow",
        MARKET_USDT,
        most + 1,
    )
    ok(lending.pool.transact(borrower, "borrow", MARKET_USDT, most))


def test_a_withdrawal_below_health_factor_one_is_refused(lending, borrower):
    ok(lending.pool.transact(borrower, "borrow", MARKET_USDT, 40_000 * 10**8))
    refused(
        lending,
        borrower,
        "withdrawal would put the health factor below 1",
        "withdraw",
        MARKET_BTC,
        MAX_UINT,
    )
    ok(lending.pool.transact(borrower, "withdraw", MARKET_BTC, BTC // 100))


def test_a_liquidation_of_a_healthy_position_is_refused(lending, borrower, users):
    ok(lending.pool.transact(borrower, "borrow", MARKET_USDT, 40_000 * 10**8))
    assert lending.pool.call("health_factor", borrower.address) >= 10**18
    before = state_of(lending, borrower.address)
    result = lending.liquidate(users[1], borrower.address, MARKET_USDT, MARKET_BTC, 10**8)
    assert result.revert_reason == "position is healthy: health factor is not below 1"
    assert state_of(lending, borrower.address) == before


def test_a_borrow_on_a_stale_price_is_refused(lending, evm, borrower):
    advance(evm, 300, MAX_PRICE_AGE + 1)
    refused(lending, borrower, "price is stale", "borrow", MARKET_USDT, 10**8)


def test_more_than_the_pool_holds_cannot_be_borrowed_or_withdrawn(
    lending, evm, usdt, borrower, users
):
    rich = users[2]
    mint_usdt(evm, usdt, rich, 10**14)
    ok(lending.supply(rich, MARKET_USDT, 10**14))
    refused(lending, rich, "not enough liquidity in the market", "borrow", MARKET_BTC, 2 * BTC)
    ok(lending.pool.transact(users[1], "borrow", MARKET_BTC, BTC // 2))
    refused(lending, borrower, "not enough liquidity in the market", "withdraw", MARKET_BTC, BTC)
    # USDT: the token's own balance check refuses it, reported the same way
    ok(lending.pool.transact(borrower, "borrow", MARKET_USDT, 4 * 10**12))
    ok(lending.pool.transact(rich, "withdraw", MARKET_USDT, 10**14))
    refused(
        lending, users[1], "not enough liquidity in the market", "withdraw", MARKET_USDT, 10**13
    )


def test_withdrawing_more_than_the_balance_is_refused(lending, borrower):
    refused(
        lending,
        borrower,
        "withdrawal exceeds the supplied balance",
        "withdraw",
        MARKET_BTC,
        BTC + 1,
    )


def test_supply_and_borrow_caps_hold_against_the_checkpoint(lending, evm, borrower, users):
    capped = DEFAULT_MARKETS[MARKET_BTC].as_tuple()
    capped = (*capped[:5], 3 * BTC // 2, BTC // 10, *capped[7:])
    ok(lending.pool.transact(lending.governance, "configure", MARKET_BTC, capped))
    advance(evm, 1, 2)  # the checkpoint written with the new settings is in force
    refused(
        lending,
        users[2],
        "supply cap exceeded",
        "supply",
        MARKET_BTC,
        BTC,
        value=BTC * 10**10,
    )
    refused(lending, users[1], "borrow cap exceeded", "borrow", MARKET_BTC, BTC // 10 + 1)
    ok(lending.pool.transact(users[1], "borrow", MARKET_BTC, BTC // 10))
    # Within one block the cap binds against the checkpoint's totals, not the running ones:
    # a second borrow passes; the next checkpoint counts both and stops the next one.
    ok(lending.pool.transact(users[1], "borrow", MARKET_BTC, BTC // 20))
    ok(lending.pool.transact(users[2], "accrue", MARKET_BTC))
    advance(evm, 1, 2)
    refused(lending, users[1], "borrow cap exceeded", "borrow", MARKET_BTC, 1)


def test_restaking_markets_are_collateral_only(lending, borrower):
    refused(lending, borrower, "market is collateral only", "borrow", MARKET_RSBTC, 1)


def test_only_governance_configures_and_takes_reserves(lending, borrower):
    config = DEFAULT_MARKETS[MARKET_BTC].as_tuple()
    refused(lending, borrower, "only governance", "configure", MARKET_BTC, config)
    refused(
        lending, borrower, "only governance", "withdraw_reserves", MARKET_BTC, 1, borrower.address
    )


def test_a_configuration_with_threshold_below_loan_to_value_is_refused(lending):
    bad = DEFAULT_MARKETS[MARKET_BTC].as_tuple()
    bad = (bad[0], 8_000, 7_500, *bad[3:])
    result = lending.pool.transact(lending.governance, "configure", MARKET_BTC, bad)
    assert result.revert_reason == "loan-to-value above the liquidation threshold"
