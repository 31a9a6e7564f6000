"""Hot slots are designed out of the pool: an operation writes its account's own slots and
commutative counters (the market's scaled totals, the pool's USDT balance) that the parallel
executor merges; the indices are computed from a checkpoint written in an earlier block, so
with the keeper accruing every block no operation reads what the keeper's accrue of its own
block writes."""

import pytest

from lending.deploy import MARKET_BTC, MARKET_USDT
from sidechain.predeploys import counter_slots

from .conftest import advance, mint_usdt, ok

BTC = 10**8
COUNTERS = frozenset(counter_slots())


@pytest.fixture
def market(lending, evm, usdt, users):
    """users[0..1] supply BTC collateral, users[2] USDT; the keeper (users[3]) accrues both
    markets, and the next block starts with their checkpoints in force."""
    ok(lending.supply(users[0], MARKET_BTC, BTC))
    ok(lending.supply(users[1], MARKET_BTC, BTC))
    mint_usdt(evm, usdt, users[2], 10**13)
    ok(lending.supply(users[2], MARKET_USDT, 10**13))
    ok(lending.pool.transact(users[0], "borrow", MARKET_USDT, 10**10))
    ok(lending.pool.transact(users[1], "borrow", MARKET_BTC, BTC // 10))
    keep(lending, users[3])
    advance(lending.evm, 1, 2)
    return lending


def keep(lending, keeper) -> list:
    """The keeper's accrues of this block; their storage accesses."""
    accesses = []
    for m in (MARKET_BTC, MARKET_USDT):
        with lending.evm.record_storage_access() as access:
            ok(lending.pool.transact(keeper, "accrue", m))
        accesses.append(access)
    return accesses


def access_of(evm, send):
    with evm.record_storage_access() as access:
        ok(send())
    return access


def test_accrual_acts_once_per_block(market, evm, users):
    first = access_of(evm, lambda: market.pool.transact(users[3], "accrue", MARKET_USDT))
    assert first.writes  # the next block's checkpoint, the newest pointer, the reserves
    again = access_of(evm, lambda: market.pool.transact(users[3], "accrue", MARKET_USDT))
    assert again.writes == set()


def test_operations_read_nothing_the_keepers_accrue_of_their_block_writes(market, evm, users):
    accrues = keep(market, users[3])
    operations = [
        access_of(evm, lambda: market.supply(users[0], MARKET_BTC, BTC)),
        access_of(evm, lambda: market.pool.transact(users[1], "borrow", MARKET_USDT, 10**9)),
        access_of(evm, lambda: market.pool.transact(users[2], "withdraw", MARKET_USDT, 1)),
    ]
    for accrue in accrues:
        for operation in operations:
            assert not accrue.conflicts(operation)


def test_independent_suppliers_and_borrowers_conflict_only_on_counters(market, evm, users):
    supplies = [access_of(evm, lambda a=a: market.supply(a, MARKET_BTC, BTC)) for a in users[:2]]
    assert supplies[0].conflicts(supplies[1]) <= COUNTERS
    assert supplies[0].independent_of(supplies[1], COUNTERS)
    borrows = [
        access_of(evm, lambda a=a: market.pool.transact(a, "borrow", MARKET_USDT, 10**9))
        for a in users[:2]
    ]
    # the market's scaled debt and the pool's USDT balance: both counters
    assert len(borrows[0].conflicts(borrows[1])) == 2
    assert borrows[0].independent_of(borrows[1], COUNTERS)
    # Each writes its own balance (and its USDT balance), the rest are counters.
    assert all(len(a.writes - COUNTERS) == 1 for a in supplies)
    assert all(len(a.writes - COUNTERS) == 2 for a in borrows)
