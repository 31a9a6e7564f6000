"""An exact integer model of RestakingVault.vy's arithmetic: the reference for property tests.

A pool has an active rate and a queue rate (rays of an asset unit per share) and its share
counters; stakes and unstakes convert at the rates, rewards and slashes move the rates.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from restaking.errors import VaultRefused

RAY = 10**27
INITIAL_RATE = RAY // 1000
VIRTUAL_SHARES = 1000
MAX_BPS = 10_000


def to_shares(assets: int, rate: int) -> int:
    """Shares minted for `assets` at `rate`, rounded down (the vault keeps the remainder)."""
    return assets * RAY // rate


def to_assets(shares: int, rate: int) -> int:
    """Assets `shares` are worth at `rate`, rounded down (the vault keeps the remainder)."""
    return shares * rate // RAY


def cut(shares: int, rate: int, fraction_bps: int) -> tuple[int, int]:
    """(assets taken, new rate) when a slash of fraction_bps hits `shares` at `rate`: what they
    were worth less what they are worth at the new rate, both rounded down."""
    new_rate = max(rate * (MAX_BPS - fraction_bps) // MAX_BPS, 1)
    return to_assets(shares, rate) - to_assets(shares, new_rate), new_rate


@dataclass(frozen=True)
class Pool:
    """One operator's pool: its rates (zero before the first stake) and share counters."""

    rate: int = 0
    queue_rate: int = 0
    shares: int = 0
    queued_shares: int = 0

    @property
    def stake(self) -> int:
        """Active assets: what the shares are worth (stake_of)."""
        return to_assets(self.shares, self.rate)


@dataclass(frozen=True)
class Withdrawal:
    operator: str
    queued_shares: int
    claimable_at: int
    claimed: bool = False


@dataclass
class VaultModel:
    """The vault's state for pay-out withdrawals (no redelegation), keyed by plain names."""

    unbonding_blocks: int
    pools: dict[str, Pool] = field(default_factory=dict)
    balances: dict[str, int] = field(default_factory=dict)
    delegated_to: dict[str, str] = field(default_factory=dict)
    withdrawals: dict[str, list[Withdrawal]] = field(default_factory=dict)
    commission_owed: dict[str, int] = field(default_factory=dict)

    def pool(self, operator: str) -> Pool:
        return self.pools.get(operator, Pool())

    def deposit(self, staker: str, operator: str, amount: int) -> int:
        """Shares minted; refuses as the contract does."""
        _require(amount > 0, "amount is zero", amount)
        balance = self.balances.get(staker, 0)
        _require(
            balance == 0 or self.delegated_to[staker] == operator,
            "staker delegates to another operator",
            operator,
        )
        pool = self.pool(operator)
        if pool.rate == 0:
            pool = Pool(rate=INITIAL_RATE, queue_rate=RAY)
        shares = to_shares(amount, pool.rate)
        _require(shares > 0, "deposit mints no shares", amount)
        self.pools[operator] = replace(pool, shares=pool.shares + shares)
        self.balances[staker] = balance + shares
        self.delegated_to[staker] = operator
        return shares

    def reward(self, operator: str, amount: int, commission_bps: int) -> int:
        """The operator's commission; the rest raises the pool's rate (virtual shares take
        their part)."""
        _require(amount > 0, "amount is zero", amount)
        pool = self.pool(operator)
        _require(pool.shares > 0, "operator has no stake", operator)
        commission = amount * commission_bps // MAX_BPS
        self.commission_owed[operator] = self.commission_owed.get(operator, 0) + commission
        raised = (amount - commission) * RAY // (pool.shares + VIRTUAL_SHARES)
        self.pools[operator] = replace(pool, rate=pool.rate + raised)
        return commission

    def reward_all(self, amount: int, commissions: Mapping[str, int]) -> dict[str, int]:
        """Split `amount` over the operators in `commissions` (the active ones, registry order,
        with their commission) pro rata to stake, the remainder to the first largest; returns
        what each got."""
        _require(amount > 0, "amount is zero", amount)
        stakes = {op: self.pool(op).stake for op in commissions}
        total = sum(stakes.values())
        _require(total > 0, "vault has no stake", amount)
        parts = {op: amount * stake // total for op, stake in stakes.items()}
        largest = max(stakes, key=lambda op: (stakes[op], -list(stakes).index(op)))
        parts[largest] += amount - sum(parts.values())
        for op, part in parts.items():
            if part > 0:
                self.reward(op, part, commissions[op])
        return parts

    def unstake(self, staker: str, shares: int, block: int) -> int:
        """Index of the queued withdrawal."""
        _require(shares > 0, "shares is zero", shares)
        balance = self.balances.get(staker, 0)
        _require(balance >= shares, "unstake amount exceeds balance", shares)
        operator = self.delegated_to[staker]
        pool = self.pool(operator)
        assets = to_assets(shares, pool.rate)
        _require(assets > 0, "unstake returns no assets", shares)
        queued = to_shares(assets, pool.queue_rate)
        self.balances[staker] = balance - shares
        self.pools[operator] = replace(
            pool, shares=pool.shares - shares, queued_shares=pool.queued_shares + queued
        )
        queue = self.withdrawals.setdefault(staker, [])
        queue.append(Withdrawal(operator, queued, block + self.unbonding_blocks))
        return len(queue) - 1

    def claim(self, staker: str, index: int, block: int) -> int:
        """Assets paid out."""
        queue = self.withdrawals.get(staker, [])
        _require(index < len(queue), "unknown withdrawal", index)
        w = queue[index]
        _require(not w.claimed, "withdrawal already claimed", index)
        _require(block >= w.claimable_at, "withdrawal still unbonding", w.claimable_at)
        pool = self.pool(w.operator)
        assets = to_assets(w.queued_shares, pool.queue_rate)
        self.pools[w.operator] = replace(pool, queued_shares=pool.queued_shares - w.queued_shares)
        queue[index] = replace(w, claimed=True)
        return assets

    def slash(self, operator: str, fraction_bps: int) -> int:
        """Assets taken from the operator's active and queued stake alike."""
        pool = self.pool(operator)
        if pool.rate == 0:
            return 0
        active, rate = cut(pool.shares, pool.rate, fraction_bps)
        queued, queue_rate = cut(pool.queued_shares, pool.queue_rate, fraction_bps)
        self.pools[operator] = replace(pool, rate=rate, queue_rate=queue_rate)
        return active + queued

    def liabilities(self) -> int:
        """Everything the vault may still owe: what the shares and queues are worth now, and
        unpaid commissions."""
        pooled = sum(
            to_assets(p.shares, p.rate) + to_assets(p.queued_shares, p.queue_rate)
            for p in self.pools.values()
        )
        return pooled + sum(self.commission_owed.values())


def _require(condition: bool, reason: str, value: object) -> None:
    if not condition:
        raise VaultRefused(reason, value)
