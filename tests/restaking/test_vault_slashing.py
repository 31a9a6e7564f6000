"""A slash cuts one operator's pool rates by a fraction, so its delegators and their queued
withdrawals lose pro rata, and leaves every other operator's pool alone."""

from restaking.vault_model import INITIAL_RATE, RAY, to_assets

from .conftest import ADDRESSES, PARAMS, WEI_PER_SAT, advance, mint_usdt, ok


def slash(evm, vault, operator, fraction_bps: int):
    """The court's call into a vault."""
    return evm.message_call(
        ADDRESSES.court, vault.address, vault.calldata("slash", operator.address, fraction_bps)
    )


def test_slash_cuts_delegators_and_queued_withdrawals_pro_rata(restaking, evm, operators, stakers):
    active, leaving, elsewhere = stakers
    btc = restaking.btc
    ok(restaking.stake_btc(active, operators[0], 100_000))
    ok(restaking.stake_btc(leaving, operators[0], 60_000))
    ok(restaking.stake_btc(elsewhere, operators[1], 80_000))
    ok(btc.transact(leaving, "unstake", btc.call("balanceOf", leaving.address)))
    assert btc.call("claimable", leaving.address, 0) == 60_000

    result = slash(evm, btc, operators[0], 2_500)
    assert result.success, result.revert_reason

    [slashed] = btc.events(result, "Slashed")
    assert slashed["assets"] == 25_000 + 15_000
    assert evm.state.get_balance(ADDRESSES.court) == 40_000 * WEI_PER_SAT
    rates = btc.call("rates", operators[0].address)
    assert rates == (INITIAL_RATE * 3 // 4, RAY * 3 // 4)
    assert btc.call("stake_of", operators[0].address) == 75_000
    expected_active = to_assets(100_000_000, rates[0])
    assert btc.call("assets_of", active.address) == expected_active == 75_000
    assert btc.call("claimable", leaving.address, 0) == 45_000
    assert btc.call("assets_of", elsewhere.address) == 80_000
    assert btc.call("stake_of", operators[1].address) == 80_000

    advance(evm, PARAMS.unbonding_blocks)
    result = ok(btc.transact(leaving, "claim", 0))
    assert btc.events(result, "Claimed")[0]["assets"] == 45_000


def test_a_full_usdt_slash_takes_everything_and_the_pool_goes_on(
    restaking, evm, usdt, operators, stakers
):
    mint_usdt(evm, usdt, stakers[0], 10_000)
    ok(restaking.stake_usdt(stakers[0], operators[0], 10_000))
    result = slash(evm, restaking.usdt, operators[0], 10_000)
    assert result.success, result.revert_reason
    assert usdt.call("balanceOf", "0x" + ADDRESSES.court.hex()) == 10_000
    assert restaking.usdt.call("assets_of", stakers[0].address) == 0
    # The old shares are worth nothing at the lowest rate; new stake gets a fair price.
    assert restaking.usdt.call("rates", operators[0].address) == (1, 1)
    mint_usdt(evm, usdt, stakers[1], 500)
    ok(restaking.stake_usdt(stakers[1], operators[0], 500))
    assert restaking.usdt.call("assets_of", stakers[1].address) == 500


def test_only_the_court_slashes_and_at_most_everything(restaking, evm, operators, stakers):
    ok(restaking.stake_btc(stakers[0], operators[0], 1_000))
    refused = restaking.btc.transact(stakers[0], "slash", operators[0].address, 1)
    assert refused.revert_reason == "only court"
    assert slash(evm, restaking.btc, operators[0], 10_001).revert_reason == (
        "fraction above 10000 basis points"
    )
