"""Leveraged restaking in one call: restake -> supply rsBTC -> borrow BTC -> restake up to the
target, with the health factor kept above the caller's floor or the whole call refused; one
call unwinds (the BTC debt repaid from the BTC sent, all the rsBTC handed back)."""

import pytest
from eth_utils import to_checksum_address

from lending.deploy import DEFAULT_MARKETS, MARKET_BTC, MARKET_RSBTC

from .conftest import BTC_PRICE, USDT_PRICE, WEI_PER_SAT, advance, ok

BTC = 10**8
WAD = 10**18
CONFIG = DEFAULT_MARKETS[MARKET_RSBTC]


@pytest.fixture
def leverage(lending, evm, restaking, operators, users):
    """users[1] supplies 10 BTC to lend; leverage(user, target_bps, floor) leverages 1 BTC."""
    ok(lending.supply(users[1], MARKET_BTC, 10 * BTC))

    def run(user, target_bps: int, floor: int):
        return lending.router.transact(
            user, "leverage", operators[0].address, target_bps, floor, value=BTC * WEI_PER_SAT
        )

    return run


def account_of(lending, user) -> str:
    return to_checksum_address(lending.router.call("accounts", user.address))


def test_one_call_leverages_to_three_times_above_the_floor(lending, restaking, leverage, users):
    user = users[0]
    result = ok(leverage(user, 30_000, 11 * WAD // 10))

    [leveraged] = lending.router.events(result, "Leveraged")
    assert (leveraged["equity"], leveraged["staked"]) == (BTC, 3 * BTC)
    account = account_of(lending, user)
    collateral = lending.pool.call("supply_balance", MARKET_RSBTC, account)
    debt = lending.pool.call("debt_balance", MARKET_BTC, account)
    assert 3 * BTC - 10 <= collateral <= 3 * BTC  # the vault rounds each stake down
    assert debt == 2 * BTC
    health = lending.pool.call("health_factor", account)
    assert health >= 11 * WAD // 10
    assert health == collateral * CONFIG.liquidation_threshold_bps // 10_000 * WAD // debt
    assert restaking.btc.call("balanceOf", account) == 0  # all of it is in the pool's purse


def test_a_target_that_would_end_below_the_floor_is_refused_whole(lending, evm, leverage, users):
    pool_btc = evm.state.get_balance(lending.pool.address)
    result = leverage(users[0], 30_000, 125 * WAD // 100)  # 3x ends at 1.2
    assert result.revert_reason == "health factor below the floor"
    assert lending.router.call("accounts", users[0].address) == "0x" + "00" * 20
    assert evm.state.get_balance(lending.pool.address) == pool_btc


def test_a_target_beyond_the_loan_to_value_limit_is_refused(leverage, users):
    result = leverage(users[0], 35_000, WAD)  # six rounds at 75% loan-to-value reach ~3.3x
    assert result.revert_reason == "target leverage not reachable within the loan-to-value limit"


def test_one_call_unwinds_repaying_the_debt_and_returning_the_rsbtc(
    lending, restaking, evm, leverage, users
):
    user = users[0]
    ok(leverage(user, 30_000, WAD))
    account = account_of(lending, user)
    ok(lending.pool.transact(user, "accrue", MARKET_BTC))  # the keeper sets the new rates
    advance(evm, 100, 30 * 86_400)
    ok(lending.post_price(0, BTC_PRICE))
    ok(lending.post_price(1, USDT_PRICE))
    owed = lending.pool.call("debt_balance", MARKET_BTC, account)
    assert owed > 2 * BTC  # a month of interest
    purse = to_checksum_address(lending.pool.call("purses", account))
    shares = restaking.btc.call("balanceOf", purse)
    sent = (owed + BTC) * WEI_PER_SAT
    before = evm.state.get_balance(bytes.fromhex(user.address[2:]))

    result = ok(lending.router.transact(user, "unwind", value=sent))

    [unwound] = lending.router.events(result, "Unwound")
    assert unwound["shares"] == shares
    assert restaking.btc.call("balanceOf", user.address) == shares
    assert lending.pool.call("debt_balance", MARKET_BTC, account) == 0
    assert lending.pool.call("supply_balance", MARKET_RSBTC, account) == 0
    spent = before - evm.state.get_balance(bytes.fromhex(user.address[2:]))
    assert owed * WEI_PER_SAT <= spent < owed * WEI_PER_SAT + 10**16  # the rest refunded (gas)


def test_unwinding_without_the_debt_in_btc_is_refused(lending, leverage, users):
    ok(leverage(users[0], 20_000, WAD))
    result = lending.router.transact(users[0], "unwind", value=BTC // 2 * WEI_PER_SAT)
    assert result.revert_reason == "send at least the BTC debt to unwind"


def test_only_the_router_drives_an_account(lending, leverage, users):
    ok(leverage(users[0], 20_000, WAD))
    account = bytes.fromhex(account_of(lending, users[0])[2:])
    data = lending.router.calldata("unwind")
    result = lending.evm.transact(users[0], account, data)
    assert result.revert_reason == "only router"
