"""Gas of the pool's hot paths (run with -s to see the figures): each operation as the block's
first (it accrues both loanable markets, reading their shards) and as a later one (the indices
are already current). A first supply also creates the account's balance slots."""

from lending.deploy import MARKET_BTC, MARKET_USDT

from .conftest import advance, mint_usdt, ok
from .conftest import gas_used as harness_gas_used

BTC = 10**8
USDT = 10**8
BUDGET = {"supply": 300_000, "borrow": 350_000, "repay": 260_000, "liquidate": 380_000}


def gas_used(evm, account, send, **moved) -> int:
    """The harness's figure, with every slot and account cold as at a transaction's start
    (state.apply_transaction alone keeps EIP-2929 warm sets from one transaction to the next)."""
    evm.state.lock_changes()
    return harness_gas_used(evm, account, send, **moved)


def test_supply_borrow_repay_and_liquidate_gas_stays_within_budget(lending, evm, usdt, users):
    borrower, other, supplier, liquidator = users
    mint_usdt(evm, usdt, supplier, 200_000 * USDT)
    mint_usdt(evm, usdt, liquidator, 100_000 * USDT)
    ok(lending.supply(supplier, MARKET_USDT, 100_000 * USDT))
    ok(lending.supply(other, MARKET_BTC, BTC))
    ok(lending.pool.transact(other, "borrow", MARKET_USDT, 1_000 * USDT))

    def send(name: str, *args, account=borrower):
        if name == "supply":
            return lambda: lending.supply(account, *args)
        if name == "repay":
            return lambda: lending.repay(account, *args)
        if name == "liquidate":
            return lambda: lending.liquidate(account, *args)
        return lambda: lending.pool.transact(account, name, *args)

    first, later = {}, {}
    for figures in (first, later):
        if figures is first:
            advance(evm, 1, 12)
        figures["supply"] = gas_used(
            evm, borrower, send("supply", MARKET_BTC, BTC // 2), sent=BTC // 2 * 10**10
        )
        if figures is first:
            advance(evm, 1, 12)
        figures["borrow"] = gas_used(evm, borrower, send("borrow", MARKET_USDT, 20_000 * USDT))
        if figures is first:
            advance(evm, 1, 12)
        figures["repay"] = gas_used(evm, borrower, send("repay", MARKET_USDT, 1_000 * USDT))

    ok(lending.pool.transact(borrower, "borrow", MARKET_USDT, 3_500 * USDT))
    for price in (54_000, 46_000):
        advance(evm, 1, 12)
        ok(lending.post_price(MARKET_BTC, price * 10**8))
    args = (borrower.address, MARKET_USDT, MARKET_BTC, 5_000 * USDT)
    later["liquidate"] = gas_used(evm, liquidator, send("liquidate", *args, account=liquidator))
    advance(evm, 1, 12)
    first["liquidate"] = gas_used(evm, liquidator, send("liquidate", *args, account=liquidator))

    print(f"lending gas, first in block: {first}; later in block: {later}")
    for figures in (first, later):
        for name, gas in figures.items():
            assert 21_000 < gas < BUDGET[name], (name, gas)


def test_leveraging_to_three_times_fits_a_transaction(lending, evm, operators, users):
    ok(lending.supply(users[1], MARKET_BTC, 10 * BTC))
    advance(evm, 1, 12)
    wei = BTC * 10**10
    gas = gas_used(
        evm,
        users[0],
        lambda: lending.router.transact(
            users[0], "leverage", operators[0].address, 30_000, 10**18, value=wei
        ),
        sent=wei,
    )
    print(f"leverage to 3x (5 rounds, first call creates the account and purse): {gas}")
    assert 21_000 < gas < 2_000_000
