"""An exact integer model of RestakingVault.vy's arithmetic: the reference for property tests."""

from dataclasses import dataclass, field, replace

from restaking.errors import VaultRefused

VIRTUAL_SHARES = 10**3
VIRTUAL_ASSETS = 1
MAX_BPS = 10_000


def to_shares(assets: int, total_assets: int, total_shares: int) -> int:
    """Shares minted for `assets`, rounded down (the vault keeps the remainder)."""
    return assets * (total_shares + VIRTUAL_SHARES) // (total_assets + VIRTUAL_ASSETS)


def to_assets(shares: int, total_assets: int, total_shares: int) -> int:
    """Assets `shares` are worth, rounded down (the vault keeps the remainder)."""
    return shares * (total_assets + VIRTUAL_ASSETS) // (total_shares + VIRTUAL_SHARES)


@dataclass(frozen=True)
class Pool:
    """One operator's pool: active shares and assets, and its unbonding queue."""

    shares: int = 0
    assets: int = 0
    queued_shares: int = 0
    queued_assets: int = 0


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
        shares = to_shares(amount, pool.assets, pool.shares)
        _require(shares > 0, "deposit mints no shares", amount)
        self.pools[operator] = replace(
            pool, shares=pool.shares + shares, assets=pool.assets + amount
        )
        self.balances[staker] = balance + shares
        self.delegated_to[staker] = operator
        return shares

    def reward(self, operator: str, amount: int, commission_bps: int) -> int:
        """The operator's commission; the rest raises the pool's exchange rate."""
        pool = self.pool(operator)
        _require(pool.shares > 0, "operator has no stake", operator)
        _require(amount > 0, "amount is zero", amount)
        commission = amount * commission_bps // MAX_BPS
        self.commission_owed[operator] = self.commission_owed.get(operator, 0) + commission
        self.pools[operator] = replace(pool, assets=pool.assets + amount - commission)
        return commission

    def unstake(self, staker: str, shares: int, block: int) -> int:
        """Index of the queued withdrawal."""
        _require(shares > 0, "shares is zero", shares)
        balance = self.balances.get(staker, 0)
        _require(balance >= shares, "unstake amount exceeds balance", shares)
        operator = self.delegated_to[staker]
        pool = self.pool(operator)
        assets = to_assets(shares, pool.assets, pool.shares)
        _require(assets > 0, "unstake returns no assets", shares)
        queued = to_shares(assets, pool.queued_assets, pool.queued_shares)
        self.balances[staker] = balance - shares
        self.pools[operator] = Pool(
            shares=pool.shares - shares,
            assets=pool.assets - assets,
            queued_shares=pool.queued_shares + queued,
            queued_assets=pool.queued_assets + assets,
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
        assets = to_assets(w.queued_shares, pool.queued_assets, pool.queued_shares)
        self.pools[w.operator] = replace(
            pool,
            queued_shares=pool.queued_shares - w.queued_shares,
            queued_assets=pool.queued_assets - assets,
        )
        queue[index] = replace(w, claimed=True)
        return assets

    def slash(self, operator: str, fraction_bps: int) -> int:
        """Assets taken from the operator's active and queued stake alike."""
        pool = self.pool(operator)
        active = pool.assets * fraction_bps // MAX_BPS
        queued = pool.queued_assets * fraction_bps // MAX_BPS
        self.pools[operator] = replace(
            pool, assets=pool.assets - active, queued_assets=pool.queued_assets - queued
        )
        return active + queued

    def liabilities(self) -> int:
        """Everything the vault may still owe: pools, queues and unpaid commissions."""
        pooled = sum(p.assets + p.queued_assets for p in self.pools.values())
        return pooled + sum(self.commission_owed.values())


def _require(condition: bool, reason: str, value: object) -> None:
    if not condition:
        raise VaultRefused(reason, value)
