"""Stakers of different operators write disjoint storage, so the parallel executor can run their
stakes and unstakes at once: no vault-wide slot (total supply, counter, token balance) is written
by every stake. (A BTC stake also credits the vault's native balance: an account balance, not a
storage slot, like the Bridge's for BTC withdrawals.)"""

import pytest

from .conftest import mint_usdt, ok


@pytest.fixture
def stake(restaking, evm, usdt):
    """stake(vault, staker, operator, amount) -> the writes of the stake alone (funding aside)."""

    def run(vault: str, staker, operator, amount: int) -> set:
        if vault == "usdt":
            mint_usdt(evm, usdt, staker, amount)
            ok(usdt.transact(staker, "approve", restaking.usdt.address, 2**256 - 1))
        with evm.record_storage_writes() as writes:
            if vault == "btc":
                ok(restaking.stake_btc(staker, operator, amount))
            else:
                ok(restaking.usdt.transact(staker, "deposit", operator.address, amount))
        return writes

    return run


@pytest.mark.parametrize("vault", ["btc", "usdt"])
def test_stakes_with_different_operators_write_disjoint_slots(
    vault, restaking, evm, stake, operators, stakers, outsider
):
    stake(vault, outsider, operators[0], 1_000)  # an operator's first stake creates its purse
    stake(vault, stakers[2], operators[1], 1_000)

    first = stake(vault, stakers[0], operators[0], 5_000)
    second = stake(vault, stakers[1], operators[1], 7_000)
    assert first.isdisjoint(second)

    contract = getattr(restaking, vault)
    with evm.record_storage_writes() as first:
        ok(contract.transact(stakers[0], "unstake", 10**6))
    with evm.record_storage_writes() as second:
        ok(contract.transact(stakers[1], "unstake", 10**6))
    assert first.isdisjoint(second)
    assert all(address == contract.address for address, _ in first | second)


def test_a_stake_writes_only_the_stakers_and_its_operators_slots(
    restaking, evm, operators, stakers
):
    ok(restaking.stake_btc(stakers[1], operators[0], 1_000))
    ok(restaking.stake_btc(stakers[0], operators[0], 1_000))
    with evm.record_storage_writes() as writes:
        ok(restaking.stake_btc(stakers[0], operators[0], 2_000))
    # balanceOf[staker], pool.shares, pool.assets (delegation unchanged: not rewritten)
    assert len(writes) == 3
    with evm.record_storage_writes() as other:
        ok(restaking.stake_btc(stakers[1], operators[0], 2_000))
    # Stakers of one operator share exactly its pool's two active slots.
    assert len(writes & other) == 2
