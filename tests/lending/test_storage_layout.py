"""Hot slots are designed out: the indices are written once per block (a second accrual in the
same block writes nothing), and after that independent suppliers and borrowers of the BTC
market write disjoint storage; in the USDT market the one slot they share is the pool's own
USDT balance in the token contract."""

import pytest

from lending.deploy import MARKET_BTC, MARKET_USDT
from sidechain.predeploys import USDT_ADDRESS

from .conftest import LENDING, advance, mint_usdt, ok

BTC = 10**8


@pytest.fixture
def market(lending, evm, usdt, users):
    """users[0..1] supply BTC collateral, users[2] USDT; then a new block starts."""
    ok(lending.supply(users[0], MARKET_BTC, BTC))
    ok(lending.supply(users[1], MARKET_BTC, BTC))
    mint_usdt(evm, usdt, users[2], 10**13)
    ok(lending.supply(users[2], MARKET_USDT, 10**13))
    ok(lending.pool.transact(users[0], "borrow", MARKET_USDT, 10**10))
    ok(lending.pool.transact(users[1], "borrow", MARKET_BTC, BTC // 10))
    advance(lending.evm, 1, 12)
    return lending


def writes_of(evm, send) -> set:
    with evm.record_storage_writes() as writes:
        ok(send())
    return writes


def test_accrual_writes_once_per_block(market, evm, users):
    first = writes_of(evm, lambda: market.pool.transact(users[3], "accrue", MARKET_USDT))
    assert first  # indices, stamp and reserves of the market
    again = writes_of(evm, lambda: market.pool.transact(users[3], "accrue", MARKET_USDT))
    assert again == set()


def test_independent_btc_suppliers_and_borrowers_write_disjoint_slots(market, evm, users):
    ok(market.pool.transact(users[3], "accrue", MARKET_BTC))  # the block's first operation
    ok(market.pool.transact(users[3], "accrue", MARKET_USDT))
    supplies = [writes_of(evm, lambda a=a: market.supply(a, MARKET_BTC, BTC)) for a in users[:2]]
    assert supplies[0].isdisjoint(supplies[1])
    borrows = [
        writes_of(evm, lambda a=a: market.pool.transact(a, "borrow", MARKET_BTC, BTC // 100))
        for a in users[:2]
    ]
    assert borrows[0].isdisjoint(borrows[1])
    # Each writes its own balance and its shard: two slots.
    assert all(len(w) == 2 for w in supplies + borrows)


def test_usdt_operations_share_only_the_pools_token_balance(market, evm, usdt, users):
    ok(market.pool.transact(users[3], "accrue", MARKET_USDT))
    ok(market.pool.transact(users[3], "accrue", MARKET_BTC))
    first = writes_of(evm, lambda: market.pool.transact(users[0], "borrow", MARKET_USDT, 10**9))
    second = writes_of(evm, lambda: market.pool.transact(users[1], "borrow", MARKET_USDT, 10**9))
    shared = first & second
    assert len(shared) == 1
    [(address, _)] = shared
    assert address == USDT_ADDRESS
    assert {a for a, _ in first - shared} == {LENDING.pool, USDT_ADDRESS}
