"""Stakers write disjoint storage but for commutative counters, so the parallel executor can run
their stakes, unstakes and claims at once: an operator's pool rate is read, never written, by a
stake; its share totals are counters the executor merges (sidechain.predeploys.counter_slots);
no other vault-wide or operator-wide slot is touched. (A BTC stake also credits the vault's
native balance: an account balance credited blindly, not a storage slot.) Only rewards and
slashes write a pool's rate, so they do order against that operator's stakes."""

import pytest

from sidechain.contracts import load_artifact
from sidechain.predeploys import USDT_ADDRESS, counter_slots

from .conftest import PARAMS, advance, mint_usdt, ok

COUNTERS = frozenset(counter_slots())
VAULT = load_artifact("RestakingVault")


@pytest.fixture
def stake(restaking, evm, usdt):
    """stake(vault, staker, operator, amount) -> the storage access of the stake alone."""

    def run(vault: str, staker, operator, amount: int):
        if vault == "usdt":
            mint_usdt(evm, usdt, staker, amount)
            ok(usdt.transact(staker, "approve", restaking.usdt.address, 2**256 - 1))
        with evm.record_storage_access() as access:
            if vault == "btc":
                ok(restaking.stake_btc(staker, operator, amount))
            else:
                ok(restaking.usdt.transact(staker, "deposit", operator.address, amount))
        return access

    return run


@pytest.mark.parametrize("vault", ["btc", "usdt"])
def test_stakes_to_one_operator_conflict_only_on_counters(vault, stake, operators, stakers):
    stake(vault, stakers[2], operators[0], 1_000)  # the pool's first stake sets its rates
    first = stake(vault, stakers[0], operators[0], 5_000)
    second = stake(vault, stakers[1], operators[0], 7_000)

    shared = first.conflicts(second)
    assert shared and shared <= COUNTERS  # the pool's active shares (and the USDT held)
    assert first.independent_of(second, COUNTERS)


@pytest.mark.parametrize("vault", ["btc", "usdt"])
def test_unstakes_and_claims_conflict_only_on_counters(
    vault, restaking, evm, stake, operators, stakers
):
    contract = getattr(restaking, vault)
    for staker in stakers[:2]:
        stake(vault, staker, operators[0], 5_000)
    unstakes = []
    for staker in stakers[:2]:
        with evm.record_storage_access() as access:
            ok(contract.transact(staker, "unstake", 10**6))
        unstakes.append(access)
    assert unstakes[0].independent_of(unstakes[1], COUNTERS)
    advance(evm, PARAMS.unbonding_blocks)
    claims = []
    for staker in stakers[:2]:
        with evm.record_storage_access() as access:
            ok(contract.transact(staker, "claim", 0))
        claims.append(access)
    assert claims[0].independent_of(claims[1], COUNTERS)


def test_a_stake_writes_only_the_stakers_slots_and_counters(
    restaking, evm, stake, operators, stakers
):
    stake("usdt", stakers[1], operators[0], 1_000)
    stake("usdt", stakers[0], operators[0], 1_000)
    access = stake("usdt", stakers[0], operators[0], 2_000)
    staker = bytes.fromhex(stakers[0].address[2:])
    own = {
        (restaking.usdt.address, VAULT.storage_slot("balanceOf", staker)),
        (USDT_ADDRESS, load_artifact("USDT").storage_slot("balanceOf", staker)),
    }
    # the staker's shares and tokens (delegation unchanged, allowance infinite), and counters
    assert access.writes - COUNTERS == own
    assert len(access.writes & COUNTERS) == 2


def test_a_reward_writes_the_rate_that_later_stakes_read(restaking, evm, stake, operators, stakers):
    stake("btc", stakers[0], operators[0], 10_000)
    with evm.record_storage_access() as reward:
        ok(
            restaking.btc.transact(
                stakers[2], "reward", operators[0].address, 100, value=100 * 10**10
            )
        )
    later = stake("btc", stakers[1], operators[0], 10_000)
    operator = bytes.fromhex(operators[0].address[2:])
    rate = (restaking.btc.address, VAULT.storage_slot("rates", operator))
    assert rate in reward.conflicts(later)
