"""Property tests of the vault arithmetic: random sequences of deposits, rewards (to one pool
and pro rata to all), unstakes, claims, slashes and commission claims run on the contract and on
the exact integer model (restaking.vault_model) must agree step by step; nobody takes out more
than an exact rational account says they are owed; the share counters equal the balances, and
the vault always holds what every share and queued withdrawal is worth."""

from dataclasses import dataclass, field
from fractions import Fraction

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from restaking.errors import VaultRefused
from restaking.vault_model import MAX_BPS, VaultModel, to_assets

from .conftest import ADDRESSES, COMMISSION_BPS, PARAMS, WEI_PER_SAT, advance, block_number

STAKERS = 3
OPERATORS = 2

staker = st.integers(0, STAKERS - 1)
operator = st.integers(0, OPERATORS - 1)
deposit = st.tuples(st.just("deposit"), staker, operator, st.integers(1, 10**9))
unstake = st.tuples(st.just("unstake"), staker, st.integers(1, 100))
# None: the staker's oldest unclaimed withdrawal (so claims often find one)
claim = st.tuples(st.just("claim"), staker, st.none() | st.integers(0, 2))
advance_blocks = st.tuples(st.just("advance"), st.integers(1, 2 * PARAMS.unbonding_blocks))
actions = st.tuples(
    st.lists(deposit, min_size=1, max_size=4),
    st.lists(
        st.one_of(
            deposit,
            st.tuples(st.just("reward"), operator, st.integers(1, 10**9)),
            st.tuples(st.just("reward_all"), st.integers(1, 10**9)),
            unstake,
            unstake,
            claim,
            claim,
            st.tuples(st.just("slash"), operator, st.integers(0, MAX_BPS)),
            advance_blocks,
            advance_blocks,
            st.tuples(st.just("commission"), operator),
        ),
        min_size=10,
        max_size=30,
    ),
).map(lambda parts: parts[0] + parts[1])


@dataclass
class Owed:
    """What each staker is owed in exact rationals: deposits, plus rewards pro rata to shares,
    minus slashes pro rata to value, with no rounding and no virtual offset."""

    active: dict[int, Fraction] = field(default_factory=dict)
    queued: dict[tuple[int, int], Fraction] = field(default_factory=dict)
    operator_of: dict[tuple[int, int], str] = field(default_factory=dict)

    def reward(self, model: VaultModel, names: list[str], op: str, net: int) -> None:
        holders = [i for i, n in enumerate(names) if model.delegated_to.get(n) == op]
        total = sum(model.balances.get(names[i], 0) for i in holders)
        for i in holders:
            share = Fraction(model.balances.get(names[i], 0), total)
            self.active[i] = self.active.get(i, Fraction(0)) + net * share

    def slash(self, model: VaultModel, names: list[str], op: str, bps: int) -> None:
        keep = 1 - Fraction(bps, MAX_BPS)
        for i, name in enumerate(names):
            if model.delegated_to.get(name) == op:
                self.active[i] = self.active.get(i, Fraction(0)) * keep
        for key in self.queued:
            if self.operator_of[key] == op:
                self.queued[key] *= keep


class Run:
    """One example: the contract and the model side by side, with running totals."""

    def __init__(self, restaking, evm, operators, stakers, payer) -> None:
        self.vault, self.evm, self.payer = restaking.btc, evm, payer
        self.operators, self.stakers = operators[:OPERATORS], stakers[:STAKERS]
        self.all_operators = operators
        self.names = [s.address for s in self.stakers]
        self.model = VaultModel(PARAMS.unbonding_blocks)
        self.owed = Owed()
        self.paid_in = self.paid_out = self.steps = 0

    def step(self, action: tuple) -> None:
        self.steps += 1
        kind, *args = action
        if kind == "claim":
            args = [args[0], self.pick(*args)]
        if kind == "advance":
            advance(self.evm, args[0])
            return
        try:
            expected = getattr(self, f"model_{kind}")(*args)
        except VaultRefused as refused:
            result = getattr(self, f"chain_{kind}")(*args)
            assert result.revert_reason == refused.reason, action
            event(f"{kind} refused: {refused.reason}")
            return
        result = getattr(self, f"chain_{kind}")(*args)
        assert result.success, (action, result.revert_reason)
        self.check_event(kind, result, expected)
        event(f"{kind} done")

    # The model side (raises VaultRefused exactly where the contract reverts).
    def model_deposit(self, i: int, j: int, amount: int) -> int:
        shares = self.model.deposit(self.names[i], self.operators[j].address, amount)
        self.owed.active[i] = self.owed.active.get(i, Fraction(0)) + amount
        self.paid_in += amount
        return shares

    def model_reward(self, j: int, amount: int) -> int:
        op = self.operators[j].address
        commission = self.model.reward(op, amount, COMMISSION_BPS)
        self.owed.reward(self.model, self.names, op, amount - commission)
        self.paid_in += amount
        return commission

    def model_reward_all(self, amount: int) -> int:
        commissions = {op.address: COMMISSION_BPS for op in self.all_operators}
        parts = self.model.reward_all(amount, commissions)
        for op, part in parts.items():
            if part > 0:
                commission = part * COMMISSION_BPS // MAX_BPS
                self.owed.reward(self.model, self.names, op, part - commission)
        self.paid_in += amount
        return sum(1 for part in parts.values() if part > 0)

    def model_unstake(self, i: int, percent: int) -> int:
        name = self.names[i]
        balance = self.model.balances.get(name, 0)
        shares = balance * percent // 100
        index = self.model.unstake(name, shares, block_number(self.evm))
        moved = self.owed.active[i] * Fraction(shares, balance)
        self.owed.active[i] -= moved
        self.owed.queued[(i, index)] = moved
        self.owed.operator_of[(i, index)] = self.model.delegated_to[name]
        return index

    def model_claim(self, i: int, index: int) -> int:
        assets = self.model.claim(self.names[i], index, block_number(self.evm))
        # Rounding leaves under one unit per step in a pool, which later holders may share.
        assert assets <= self.owed.queued[(i, index)] + self.steps
        self.paid_out += assets
        return assets

    def model_slash(self, j: int, bps: int) -> int:
        op = self.operators[j].address
        self.owed.slash(self.model, self.names, op, bps)
        slashed = self.model.slash(op, bps)
        self.paid_out += slashed
        return slashed

    def model_commission(self, j: int) -> int:
        owed = self.model.commission_owed.pop(self.operators[j].address, 0)
        self.paid_out += owed
        return owed

    # The contract side.
    def chain_deposit(self, i: int, j: int, amount: int):
        operator = self.operators[j].address
        value = amount * WEI_PER_SAT
        return self.vault.transact(self.stakers[i], "deposit", operator, amount, value=value)

    def chain_reward(self, j: int, amount: int):
        operator = self.operators[j].address
        value = amount * WEI_PER_SAT
        return self.vault.transact(self.payer, "reward", operator, amount, value=value)

    def chain_reward_all(self, amount: int):
        value = amount * WEI_PER_SAT
        return self.vault.transact(self.payer, "reward_all", amount, value=value)

    def chain_unstake(self, i: int, percent: int):
        balance = self.vault.call("balanceOf", self.names[i])
        return self.vault.transact(self.stakers[i], "unstake", balance * percent // 100)

    def chain_claim(self, i: int, index: int):
        return self.vault.transact(self.stakers[i], "claim", index)

    def pick(self, i: int, index: int | None) -> int:
        """`index`, or when None the oldest unclaimed withdrawal of staker i (else 0)."""
        if index is not None:
            return index
        queue = self.model.withdrawals.get(self.names[i], [])
        return next((k for k, w in enumerate(queue) if not w.claimed), 0)

    def chain_slash(self, j: int, bps: int):
        data = self.vault.calldata("slash", self.operators[j].address, bps)
        return self.evm.message_call(ADDRESSES.court, self.vault.address, data)

    def chain_commission(self, j: int):
        return self.vault.transact(self.operators[j], "claim_commission")

    def check_event(self, kind: str, result, expected: int) -> None:
        event, field_name = {
            "deposit": ("Staked", "shares"),
            "reward": ("Rewarded", "commission"),
            "reward_all": ("Rewarded", None),
            "unstake": ("UnstakeQueued", "index"),
            "claim": ("Claimed", "assets"),
            "slash": ("Slashed", "assets"),
            "commission": ("CommissionClaimed", "assets"),
        }[kind]
        emitted = self.vault.events(result, event)
        if field_name is None:  # one Rewarded event per pool paid
            assert len(emitted) == expected, kind
            return
        assert [e[field_name] for e in emitted] == [expected], kind

    def check_state(self) -> None:
        held = self.evm.state.get_balance(self.vault.address)
        assert held % WEI_PER_SAT == 0
        held //= WEI_PER_SAT
        assert held == self.paid_in - self.paid_out
        assert held >= self.model.liabilities()
        for index, op in enumerate(o.address for o in self.all_operators):
            pool = self.model.pool(op)
            assert self.vault.call("rates", op) == (pool.rate, pool.queue_rate)
            assert self.vault.call("active_shares", index) == pool.shares
            assert self.vault.call("queued_shares", index) == pool.queued_shares
            assert self.vault.call("stake_of", op) == pool.stake
            assert self.vault.call("commission_owed", op) == self.model.commission_owed.get(op, 0)
            holders = [n for n in self.names if self.model.delegated_to.get(n) == op]
            balances = [self.model.balances.get(n, 0) for n in holders]
            assert sum(balances) == pool.shares
            pending = [
                w.queued_shares
                for queue in self.model.withdrawals.values()
                for w in queue
                if w.operator == op and not w.claimed
            ]
            assert sum(pending) == pool.queued_shares
            assert sum(to_assets(q, pool.queue_rate) for q in pending) <= to_assets(
                pool.queued_shares, pool.queue_rate
            )
        for name in self.names:
            assert self.vault.call("balanceOf", name) == self.model.balances.get(name, 0)


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=actions)
def test_contract_matches_the_model_and_pays_nobody_more_than_owed(
    restaking, evm, operators, stakers, outsider, sequence
):
    snapshot = evm.state.snapshot()
    start = block_number(evm)
    try:
        run = Run(restaking, evm, operators, stakers, outsider)
        for action in sequence:
            run.step(action)
        run.check_state()
    finally:
        evm.state.revert(snapshot)
        evm.state.execution_context._block_number = start
