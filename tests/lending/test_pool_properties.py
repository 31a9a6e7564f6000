"""Property tests of the pool arithmetic: random sequences of supplies, withdrawals, borrows,
repayments, block and clock jumps, checkpoints (accrue), price moves and liquidations run on
the contract and on the exact integer model (lending.pool_model) must agree to the base unit,
refusals included; the pool's cash and outstanding debt always cover what suppliers and the
reserves can claim but for written-off bad debt, and nobody withdraws more than their
balance."""

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from lending.deploy import DEFAULT_MARKETS, MARKET_BTC, MARKET_USDT
from lending.errors import PoolRefused
from lending.pool_model import MAX_BPS, PRICE_UNIT, PoolModel

from .conftest import (
    BTC_PRICE,
    LENDING,
    MAX_UINT,
    USDT_PRICE,
    WEI_PER_SAT,
    advance,
    block_number,
    mint_usdt,
    ok,
    timestamp,
)

ACTORS = 4
LOANABLE = (MARKET_BTC, MARKET_USDT)

actor = st.integers(0, ACTORS - 1)
market = st.sampled_from(LOANABLE)
percent = st.integers(1, 130)
supply = st.one_of(
    st.tuples(st.just("supply"), actor, st.just(MARKET_BTC), st.integers(1, 10**8)),
    st.tuples(st.just("supply"), actor, st.just(MARKET_USDT), st.integers(1, 5 * 10**12)),
)
# A borrower near its limit in USDT against BTC, then BTC falls: liquidations, bad debt.
leveraged = st.tuples(
    st.tuples(st.just("supply"), actor, st.just(MARKET_BTC), st.integers(10**6, 10**8)),
    st.tuples(st.just("supply"), actor, st.just(MARKET_USDT), st.just(5 * 10**12)),
).map(lambda p: [p[0], p[1], ("borrow", p[0][1], MARKET_USDT, 99)])
crash = st.tuples(st.just("price"), st.just(0), st.integers(-1_500, -1_200))
actions = st.tuples(
    st.lists(supply, min_size=1, max_size=3),
    leveraged,
    st.lists(
        st.one_of(
            crash,
            supply,
            st.tuples(st.just("withdraw"), actor, market, percent),
            st.tuples(st.just("borrow"), actor, market, percent),
            st.tuples(st.just("borrow"), actor, market, st.integers(80, 101)),
            st.tuples(st.just("repay"), actor, market, percent),
            st.tuples(st.just("advance"), st.integers(1, 3), st.integers(1, 90 * 86_400)),
            st.tuples(st.just("accrue"), market),
            st.tuples(st.just("accrue"), market),
            st.tuples(st.just("price"), st.sampled_from((0, 1)), st.integers(-1_500, 1_500)),
            st.tuples(st.just("price"), st.just(0), st.integers(-1_500, -1_000)),
            st.tuples(st.just("liquidate"), actor, actor, market, market, percent),
            # None: the borrower's largest debt and collateral markets (so some succeed)
            st.tuples(st.just("liquidate"), actor, actor, st.none(), st.none(), percent),
            st.tuples(st.just("liquidate"), actor, actor, st.none(), st.none(), percent),
        ),
        min_size=10,
        max_size=30,
    ),
).map(lambda parts: parts[0] + parts[1] + parts[2])


class Run:
    """One example: the contract and the model side by side."""

    def __init__(self, lending, evm, usdt, actors) -> None:
        self.lending, self.pool, self.evm, self.actors = lending, lending.pool, evm, actors
        self.usdt = usdt
        self.names = [a.address for a in actors]
        for m in LOANABLE:  # genesis listed both markets in one block
            effective, listed_at = self.pool.call("checkpoint_of", m)[:2]
        self.model = PoolModel(block=effective, time=listed_at)
        for m in LOANABLE:
            self.model.configure(m, DEFAULT_MARKETS[m])
        self.sync_clock()
        self.model.prices = {0: BTC_PRICE, 1: USDT_PRICE}
        self.balance_before = 0

    def step(self, action: tuple) -> None:
        kind, *args = action
        if kind == "advance":
            advance(self.evm, *args)
            self.sync_clock()
            for asset in (0, 1):  # keep both prices fresh
                self.post(asset, self.model.prices[asset])
            return
        if kind == "accrue":
            ok(self.pool.transact(self.actors[0], "accrue", args[0]))
            self.model.accrue(args[0])
            return
        if kind == "price":
            asset, move = args
            advance(self.evm, 1, 12)
            self.sync_clock()
            self.post(asset, max(1, self.model.prices[asset] * (MAX_BPS + move) // MAX_BPS))
            return
        args = self.amounts(kind, *args)
        try:
            expected = getattr(self.model, kind)(*self.model_args(kind, args))
        except PoolRefused as refused:
            result = self.chain(kind, args)
            assert result.revert_reason == refused.reason, (action, args)
            event(f"{kind} refused: {refused.reason}")
            return
        result = self.chain(kind, args)
        assert result.success, (action, args, result.revert_reason)
        self.check_event(kind, args, result, expected)
        event(f"{kind} done")

    def sync_clock(self) -> None:
        self.model.block, self.model.time = block_number(self.evm), timestamp(self.evm)

    def post(self, asset: int, price: int) -> None:
        ok(self.lending.post_price(asset, price))
        self.model.prices[asset] = price

    def amounts(self, kind: str, *args: int) -> tuple:
        """Turn percentages into amounts from the model's view of the account."""
        if kind == "supply":
            return args
        if kind == "withdraw":
            i, m, pct = args
            balance = self.model.supply_of(m, self.names[i])
            self.balance_before = balance
            return (i, m, MAX_UINT if pct > 100 else balance * pct // 100)
        if kind == "borrow":
            i, m, pct = args
            held = self.model.position(self.names[i])
            room = max(held.power - held.debt, 0) * PRICE_UNIT // self.model.prices[m]
            return (i, m, room * pct // 100)
        if kind == "repay":
            i, m, pct = args
            return (i, m, max(1, self.model.owed_by(m, self.names[i]) * pct // 100))
        liquidator, borrower, debt, collateral, pct = args
        name = self.names[borrower]
        if debt is None:
            debt = max(LOANABLE, key=lambda m: self.value(m, self.model.owed_by(m, name)))
            collateral = max(LOANABLE, key=lambda m: self.value(m, self.model.supply_of(m, name)))
        owed = self.model.owed_by(debt, name)
        return (liquidator, borrower, debt, collateral, max(1, owed * pct // 100))

    def value(self, market: int, amount: int) -> int:
        return amount * self.model.prices[market]

    def model_args(self, kind: str, args: tuple) -> tuple:
        if kind == "liquidate":
            liquidator, borrower, *rest = args
            return (self.names[liquidator], self.names[borrower], *rest)
        i, *rest = args
        return (self.names[i], *rest)

    def chain(self, kind: str, args: tuple):
        if kind == "liquidate":
            liquidator, borrower, debt, collateral, amount = args
            return self.lending.liquidate(
                self.actors[liquidator], self.names[borrower], debt, collateral, amount
            )
        i, m, amount = args
        if kind in ("supply", "repay"):
            return getattr(self.lending, kind)(self.actors[i], m, amount)
        return self.pool.transact(self.actors[i], kind, m, amount)

    def check_event(self, kind: str, args: tuple, result, expected) -> None:
        name, fields = {
            "supply": ("Supplied", ("scaled",)),
            "withdraw": ("Withdrawn", ("amount",)),
            "borrow": ("Borrowed", ("scaled",)),
            "repay": ("Repaid", ("amount",)),
            "liquidate": ("Liquidated", ("repaid", "seized")),
        }[kind]
        [emitted] = self.pool.events(result, name)
        assert tuple(emitted[f] for f in fields) == (
            expected if isinstance(expected, tuple) else (expected,)
        ), kind
        if kind == "withdraw":  # never more than the balance before (the model's, exact)
            assert expected <= self.balance_before, (args, self.balance_before)
        if kind == "liquidate" and self.pool.events(result, "BadDebtWrittenOff"):
            event("bad debt written off")

    def check_solvency(self) -> None:
        """Model-level: what the pool holds and is owed covers every claim on it, but for the
        bad debt written off (which the deficit shows)."""
        for m in LOANABLE:
            market, now = self.model.markets[m], self.model.indices(m)
            claims, backing = market.claims(now.liquidity_index), market.backing(now.borrow_index)
            assert backing + market.bad_debt >= claims, m
            assert self.model.deficit(m) <= market.bad_debt, m

    def check_state(self) -> None:
        assert self.evm.state.get_balance(LENDING.pool) == self.model.markets[0].cash * WEI_PER_SAT
        assert self.usdt.call("balanceOf", LENDING.pool) == self.model.markets[1].cash
        for m in LOANABLE:
            market, now = self.model.markets[m], self.model.indices(m)
            assert self.pool.call("indices", m) == (now.liquidity_index, now.borrow_index)
            cp = market.checkpoint(self.model.block)
            assert self.pool.call("checkpoint_of", m) == (
                market.effective(self.model.block),
                cp.at,
                cp.liquidity_index,
                cp.borrow_index,
                cp.borrow_rate,
                cp.supply_rate,
            )
            assert self.pool.call("reserves", m) == self.model.reserves(m)
            assert self.pool.call("treasury_scaled", m) == market.treasury
            assert self.pool.call("bad_debt", m) == market.bad_debt
            assert self.pool.call("deficit", m) == self.model.deficit(m)
            for name in self.names:
                assert self.pool.call("scaled_supply", m, name) == market.supply.get(name, 0)
                assert self.pool.call("scaled_debt", m, name) == market.debt.get(name, 0)
            assert self.pool.call("total_scaled_supply", m) == sum(market.supply.values())
            assert self.pool.call("total_scaled_debt", m) == sum(market.debt.values())
        for name in self.names:
            assert self.pool.call("health_factor", name) == self.model.health_factor(name)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=actions)
def test_contract_matches_the_model_and_stays_solvent(lending, evm, usdt, users, sequence):
    snapshot = evm.state.snapshot()
    context = evm.state.execution_context
    start = (context._block_number, context._timestamp)
    rounds = dict(lending.rounds)
    try:
        for account in users:
            mint_usdt(evm, usdt, account, 10**14)
        run = Run(lending, evm, usdt, users[:ACTORS])
        for action in sequence:
            run.step(action)
            run.check_solvency()
        run.check_state()
    finally:
        evm.state.revert(snapshot)
        context._block_number, context._timestamp = start
        lending.rounds = rounds
