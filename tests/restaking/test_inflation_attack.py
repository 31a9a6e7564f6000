"""The first-depositor inflation attack (stake 1 unit, donate a fortune as a reward, let the
victim's deposit round down to nothing) is neutralised by the virtual share offset: the victim
keeps almost everything and the attacker burns about 1000 times what it takes."""

import pytest

from .conftest import WEI_PER_SAT, ok

BTC = 10**8  # sats


def test_donation_after_a_one_sat_stake_does_not_rob_the_next_staker(restaking, operators, stakers):
    attacker, victim = stakers[0], stakers[1]
    operator = operators[0]
    ok(restaking.registry.transact(operator, "set_commission", 0))
    btc = restaking.btc

    ok(restaking.stake_btc(attacker, operator, 1))
    donation = 10 * BTC
    ok(btc.transact(attacker, "reward", operator.address, donation, value=donation * WEI_PER_SAT))
    ok(restaking.stake_btc(victim, operator, 1 * BTC))

    victim_value = btc.call("assets_of", victim.address)
    attacker_value = btc.call("assets_of", attacker.address)
    victim_loss = 1 * BTC - victim_value
    attacker_loss = donation + 1 - attacker_value
    assert victim_value > 0.99 * BTC
    assert attacker_loss > 900 * victim_loss
    assert attacker_value < donation


@pytest.mark.parametrize("victim_amount", [1, 999, 10**6])
def test_a_deposit_that_would_mint_no_shares_is_refused(
    restaking, operators, stakers, victim_amount
):
    attacker, victim = stakers[0], stakers[1]
    ok(restaking.stake_btc(attacker, operators[0], 1))
    donation = 10**12
    btc = restaking.btc
    ok(
        btc.transact(
            attacker, "reward", operators[0].address, donation, value=donation * WEI_PER_SAT
        )
    )
    result = restaking.stake_btc(victim, operators[0], victim_amount)
    shares = btc.call("convert_to_shares", operators[0].address, victim_amount)
    if shares == 0:
        assert result.revert_reason == "deposit mints no shares"
    else:
        assert result.success
        assert btc.call("balanceOf", victim.address) == shares
