"""rsBTC and rsUSDT as collateral: each account's shares sit in its own purse, so borrowers of
different operators coexist; the collateral is worth the purse's restaked assets times the
underlying's price, so a slash of the operator lowers it at once and opens liquidations that
pay the liquidator restaking shares plus the bonus."""

import pytest
from eth_utils import to_checksum_address

from lending.deploy import DEFAULT_MARKETS, MARKET_RSBTC, MARKET_RSUSDT, MARKET_USDT
from lending.pool_model import MAX_BPS, PRICE_UNIT

from .conftest import ADDRESSES, BTC_PRICE, MAX_UINT, mint_usdt, ok

BTC = 10**8
USDT = 10**8
BONUS = DEFAULT_MARKETS[MARKET_RSBTC].liquidation_bonus_bps


def purse_of(lending, account) -> str:
    return to_checksum_address(lending.pool.call("purses", account.address))


def slash(evm, restaking, operator, fraction_bps: int) -> None:
    """The court's call into the rsBTC vault."""
    data = restaking.btc.calldata("slash", operator.address, fraction_bps)
    assert evm.message_call(ADDRESSES.court, restaking.btc.address, data).success


@pytest.fixture
def restaked(lending, restaking, evm, usdt, operators, users):
    """users[0] and users[1] restake 1 BTC with operators 0 and 1 and supply the rsBTC; a
    USDT supplier gives the pool liquidity."""
    for user, operator in zip(users[:2], operators[:2], strict=True):
        ok(restaking.stake_btc(user, operator, BTC))
        ok(restaking.btc.transact(user, "approve", lending.pool.address, MAX_UINT))
        shares = restaking.btc.call("balanceOf", user.address)
        ok(lending.pool.transact(user, "supply", MARKET_RSBTC, shares))
    mint_usdt(evm, usdt, users[2], 200_000 * USDT)
    ok(lending.supply(users[2], MARKET_USDT, 200_000 * USDT))
    return users[0], users[1]


def test_each_account_keeps_its_own_operator_in_its_own_purse(
    lending, restaking, operators, restaked
):
    first, _ = restaked
    purses = [purse_of(lending, a) for a in restaked]
    assert purses[0] != purses[1]
    for purse, operator in zip(purses, operators[:2], strict=True):
        assert to_checksum_address(restaking.btc.call("delegated_to", purse)) == operator.address
        assert restaking.btc.call("assets_of", purse) == BTC
    assert lending.pool.call("supply_balance", MARKET_RSBTC, first.address) == BTC
    assert restaking.btc.call("balanceOf", first.address) == 0


def test_rsbtc_collateral_is_worth_its_restaked_btc(lending, restaked):
    first, _ = restaked
    power, weighted, debt = lending.pool.call("position", first.address)
    value = BTC * BTC_PRICE // PRICE_UNIT
    config = DEFAULT_MARKETS[MARKET_RSBTC]
    assert (power, weighted, debt) == (
        value * config.ltv_bps // MAX_BPS,
        value * config.liquidation_threshold_bps // MAX_BPS,
        0,
    )


def test_a_slash_lowers_the_collateral_value_at_once(lending, restaking, evm, operators, restaked):
    first, second = restaked
    ok(lending.pool.transact(first, "borrow", MARKET_USDT, 35_000 * USDT))
    ok(lending.pool.transact(second, "borrow", MARKET_USDT, 35_000 * USDT))
    before = lending.pool.call("health_factor", first.address)
    assert before >= 10**18

    slash(evm, restaking, operators[0], 5_000)  # no price is posted

    assert lending.pool.call("supply_balance", MARKET_RSBTC, first.address) == BTC // 2
    after = lending.pool.call("health_factor", first.address)
    assert after * 2 // 10**9 == before // 10**9  # halved, to rounding
    assert after < 10**18
    assert lending.pool.call("health_factor", second.address) == before  # other operator


def test_a_slashed_position_is_liquidated_for_rsbtc_shares_plus_bonus(
    lending, restaking, evm, usdt, operators, users, restaked
):
    first, _ = restaked
    liquidator = users[3]
    mint_usdt(evm, usdt, liquidator, 50_000 * USDT)
    ok(lending.pool.transact(first, "borrow", MARKET_USDT, 35_000 * USDT))
    slash(evm, restaking, operators[0], 5_000)
    repay = 10_000 * USDT

    result = ok(lending.liquidate(liquidator, first.address, MARKET_USDT, MARKET_RSBTC, repay))

    [liquidated] = lending.pool.events(result, "Liquidated")
    assert liquidated["repaid"] == repay  # below 0.95: the close factor allows it all
    expected = repay * (MAX_BPS + BONUS) // MAX_BPS * PRICE_UNIT // BTC_PRICE
    assert liquidated["seized"] == expected
    received = restaking.btc.call("assets_of", liquidator.address)
    assert expected - 2 <= received <= expected  # shares round down in the vault's favour
    delegate = restaking.btc.call("delegated_to", liquidator.address)
    assert to_checksum_address(delegate) == operators[0].address
    purse = purse_of(lending, first)
    assert restaking.btc.call("assets_of", purse) >= BTC // 2 - expected


def test_restaking_collateral_withdrawal_respects_health(lending, restaking, restaked):
    first, _ = restaked
    ok(lending.pool.transact(first, "borrow", MARKET_USDT, 35_000 * USDT))
    result = lending.pool.transact(first, "withdraw", MARKET_RSBTC, MAX_UINT)
    assert result.revert_reason == "withdrawal would put the health factor below 1"
    ok(lending.repay(first, MARKET_USDT, MAX_UINT))
    shares = restaking.btc.call("balanceOf", purse_of(lending, first))
    ok(lending.pool.transact(first, "withdraw", MARKET_RSBTC, MAX_UINT))
    assert restaking.btc.call("balanceOf", first.address) == shares


def test_rsusdt_collateral_backs_a_btc_borrow(lending, restaking, evm, usdt, operators, users):
    staker, btc_supplier = users[0], users[1]
    mint_usdt(evm, usdt, staker, 60_000 * USDT)
    ok(restaking.stake_usdt(staker, operators[0], 60_000 * USDT))
    ok(restaking.usdt.transact(staker, "approve", lending.pool.address, MAX_UINT))
    shares = restaking.usdt.call("balanceOf", staker.address)
    ok(lending.pool.transact(staker, "supply", MARKET_RSUSDT, shares))
    ok(lending.supply(btc_supplier, 0, BTC))
    ok(lending.pool.transact(staker, "borrow", 0, BTC // 2))  # 30,000 USD of 45,000 allowed
    assert lending.pool.call("debt_balance", 0, staker.address) == BTC // 2


def test_debt_left_by_a_total_slash_is_written_off_as_bad_debt(
    lending, restaking, evm, operators, restaked
):
    first, second = restaked
    ok(lending.pool.transact(first, "borrow", MARKET_USDT, 35_000 * USDT))
    refused = lending.pool.transact(second, "write_off", first.address)
    assert refused.revert_reason == "borrower still has collateral"
    slash(evm, restaking, operators[0], 10_000)
    liquidation = lending.liquidate(second, first.address, MARKET_USDT, MARKET_RSBTC, USDT)
    assert liquidation.revert_reason == "borrower has no collateral in this market"

    result = ok(lending.pool.transact(second, "write_off", first.address))

    [written_off] = lending.pool.events(result, "BadDebtWrittenOff")
    assert written_off["amount"] == 35_000 * USDT
    assert lending.pool.call("bad_debt", MARKET_USDT) == 35_000 * USDT
    assert lending.pool.call("deficit", MARKET_USDT) == 35_000 * USDT  # no reserves yet
    assert lending.pool.call("debt_balance", MARKET_USDT, first.address) == 0
    again = lending.pool.transact(second, "write_off", first.address)
    assert again.revert_reason == "borrower has no debt"
