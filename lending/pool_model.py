"""An exact integer model of LendingPool.vy's BTC and USDT markets, the property tests' reference.

Every operation runs at the model's current (block, timestamp), raises PoolRefused with the
contract's revert reason where the contract reverts, and then leaves the model unchanged.
Indices come from the checkpoint in force at the block, grown at its rates; `accrue` writes the
next block's checkpoint. Restaking collateral (rsBTC, rsUSDT) is not modelled: its value comes
from the vaults.
"""

import copy
from collections.abc import Iterable
from dataclasses import astuple, dataclass, field
from typing import Any

from lending.errors import PoolRefused

RAY = 10**27
WAD = 10**18
MAX_BPS = 10_000
PRICE_UNIT = 10**8
SECONDS_PER_YEAR = 365 * 86_400
CLOSE_FACTOR_BPS = 5_000
FULL_CLOSE_HEALTH = 95 * 10**16
LOANABLE = (0, 1)
MARKETS = 4
MAX_UINT = 2**256 - 1


@dataclass(frozen=True)
class MarketConfig:
    """LendingPool's Market struct; `as_tuple()` is its ABI encoding order."""

    ltv_bps: int
    liquidation_threshold_bps: int
    liquidation_bonus_bps: int
    reserve_factor_bps: int = 0
    supply_cap: int = 0
    borrow_cap: int = 0
    base_rate_bps: int = 0
    slope1_bps: int = 0
    slope2_bps: int = 0
    optimal_utilisation_bps: int = 0
    listed: bool = True

    def as_tuple(self) -> tuple[object, ...]:
        return (self.listed, *astuple(self)[:-1])

    @classmethod
    def from_tuple(cls, values: tuple[Any, ...]) -> "MarketConfig":
        """The inverse of `as_tuple`: LendingPool.markets(m) decoded."""
        listed, *settings = values
        return cls(*(int(value) for value in settings), listed=bool(listed))


def div_up(numerator: int, denominator: int) -> int:
    return (numerator + denominator - 1) // denominator


def utilisation(debt: int, supplied: int) -> int:
    """Debt over supply in rays, at most one ray."""
    return 0 if supplied == 0 else min(debt * RAY // supplied, RAY)


def borrow_rate(utilisation_ray: int, config: MarketConfig) -> int:
    """Yearly borrow rate in rays from the kinked curve (interest_rate.vy)."""
    optimal = config.optimal_utilisation_bps * RAY // MAX_BPS
    rate = config.base_rate_bps * RAY // MAX_BPS
    slope1 = config.slope1_bps * RAY // MAX_BPS
    if utilisation_ray <= optimal:
        return rate + slope1 * utilisation_ray // optimal
    slope2 = config.slope2_bps * RAY // MAX_BPS
    return rate + slope1 + slope2 * (utilisation_ray - optimal) // (RAY - optimal)


def grow(index: int, rate_ray: int, seconds: int) -> int:
    return index + index * rate_ray * seconds // (SECONDS_PER_YEAR * RAY)


@dataclass(frozen=True)
class Checkpoint:
    """Indices at `at`, the yearly rates from then on, and the totals for the caps."""

    liquidity_index: int
    borrow_index: int
    borrow_rate: int
    supply_rate: int
    at: int
    previous: int  # effective block of the checkpoint before
    supplied: int = 0
    borrowed: int = 0


@dataclass(frozen=True)
class Indices:
    liquidity_index: int
    borrow_index: int


@dataclass
class Market:
    """One loanable market: checkpoints by effective block, scaled balances, the treasury's
    scaled reserves, written-off debt and the cash held."""

    config: MarketConfig
    checkpoints: dict[int, Checkpoint]
    latest: int
    treasury: int = 0
    bad_debt: int = 0
    cash: int = 0
    supply: dict[str, int] = field(default_factory=dict)
    debt: dict[str, int] = field(default_factory=dict)

    def effective(self, block: int) -> int:
        """The block of the checkpoint in force at `block` (LendingPool._effective_block)."""
        if block in self.checkpoints:
            return block
        if self.latest > block:
            return self.checkpoints[self.latest].previous
        return self.latest

    def checkpoint(self, block: int) -> Checkpoint:
        return self.checkpoints[self.effective(block)]

    def indices(self, block: int, time: int) -> Indices:
        """The liquidity index moves only at checkpoints; the borrow index grows between."""
        cp = self.checkpoint(block)
        return Indices(cp.liquidity_index, grow(cp.borrow_index, cp.borrow_rate, time - cp.at))

    def claims(self, liquidity_index: int) -> int:
        """What suppliers and the treasury can claim, rounded up."""
        return div_up((sum(self.supply.values()) + self.treasury) * liquidity_index, RAY)

    def backing(self, borrow_index: int) -> int:
        """Cash plus what borrowers owe, rounded down."""
        return self.cash + sum(self.debt.values()) * borrow_index // RAY

    def add(self, book: dict[str, int], account: str, scaled: int) -> None:
        book[account] = book.get(account, 0) + scaled


@dataclass(frozen=True)
class Position:
    """USD * 10**-8: collateral weighted by loan-to-value and by liquidation threshold; debt."""

    power: int
    weighted: int
    debt: int


@dataclass(frozen=True)
class Holding:
    """An account's collateral and debt in one market (base units), at the asset's price."""

    config: MarketConfig
    collateral: int
    owed: int
    price: int


def weigh(holdings: Iterable[Holding]) -> Position:
    """LendingPool._position: values round down, debts up (the pool's favour)."""
    power = weighted = debt = 0
    for held in holdings:
        if held.collateral == 0 and held.owed == 0:
            continue
        value = held.collateral * held.price // PRICE_UNIT
        power += value * held.config.ltv_bps // MAX_BPS
        weighted += value * held.config.liquidation_threshold_bps // MAX_BPS
        debt += div_up(held.owed * held.price, PRICE_UNIT)
    return Position(power, weighted, debt)


def close_factor_bps(position: Position) -> int:
    """The share of a market's debt one liquidation may repay: all of it below 0.95."""
    full = position.weighted * WAD < position.debt * FULL_CLOSE_HEALTH
    return MAX_BPS if full else CLOSE_FACTOR_BPS


def seizure(
    repaid: int, debt_price: int, collateral_price: int, bonus_bps: int, available: int
) -> tuple[int, int]:
    """(debt repaid, collateral seized) of a liquidation offering to repay `repaid`: its value
    plus the bonus in collateral, or all of `available` and only what that covers."""
    seized = repaid * debt_price * (MAX_BPS + bonus_bps) // (MAX_BPS * collateral_price)
    if seized < available:
        return repaid, seized
    covered = available * collateral_price * MAX_BPS // (debt_price * (MAX_BPS + bonus_bps))
    return min(repaid, covered), available


def health_factor(position: Position) -> int:
    """LendingPool.health_factor: weighted collateral over debt in WAD; MAX_UINT without debt."""
    return MAX_UINT if position.debt == 0 else position.weighted * WAD // position.debt


@dataclass
class PoolModel:
    """The pool at (block, time); `prices[asset]` is what the oracle returns."""

    block: int
    time: int
    markets: dict[int, Market] = field(default_factory=dict)
    prices: dict[int, int] = field(default_factory=dict)

    def configure(self, market: int, config: MarketConfig) -> None:
        if market not in self.markets:
            rate = borrow_rate(0, config)
            first = Checkpoint(RAY, RAY, rate, 0, self.time, self.block)
            self.markets[market] = Market(config, {self.block: first}, self.block)
        else:
            self.markets[market].config = config
            self._checkpoint(market, force=True)

    def accrue(self, market: int) -> None:
        """Write the checkpoint for the next block (once a block)."""
        self._checkpoint(market, force=False)

    def indices(self, market: int) -> Indices:
        return self.markets[market].indices(self.block, self.time)

    def supply_of(self, market: int, account: str) -> int:
        m = self.markets[market]
        return m.supply.get(account, 0) * self.indices(market).liquidity_index // RAY

    def owed_by(self, market: int, account: str) -> int:
        m = self.markets[market]
        return div_up(m.debt.get(account, 0) * self.indices(market).borrow_index, RAY)

    def reserves(self, market: int) -> int:
        return self.markets[market].treasury * self.indices(market).liquidity_index // RAY

    def deficit(self, market: int) -> int:
        m, now = self.markets[market], self.indices(market)
        return max(m.claims(now.liquidity_index) - m.backing(now.borrow_index), 0)

    def supply(self, account: str, market: int, amount: int) -> int:
        """Scaled balance credited."""
        return self._atomic(self._supply, account, market, amount)

    def withdraw(self, account: str, market: int, amount: int) -> int:
        """Amount paid out (MAX_UINT withdraws everything)."""
        return self._atomic(self._withdraw, account, market, amount)

    def borrow(self, account: str, market: int, amount: int) -> int:
        """Scaled debt added."""
        return self._atomic(self._borrow, account, market, amount)

    def repay(self, account: str, market: int, amount: int) -> int:
        """Amount repaid."""
        return self._atomic(self._repay, account, market, amount)

    def liquidate(
        self, liquidator: str, borrower: str, debt_market: int, collateral_market: int, amount: int
    ) -> tuple[int, int]:
        """(debt repaid, collateral seized)."""
        return self._atomic(
            self._liquidate, liquidator, borrower, debt_market, collateral_market, amount
        )

    def position(self, account: str) -> Position:
        return weigh(
            Holding(
                market.config,
                self.supply_of(index, account),
                self.owed_by(index, account),
                self.prices.get(index % 2, 0),
            )
            for index, market in self.markets.items()
        )

    def health_factor(self, account: str) -> int:
        return health_factor(self.position(account))

    def _atomic(self, operation, *args):  # noqa: ANN001, ANN002, ANN202 (any operation)
        saved = copy.deepcopy(self.markets)
        try:
            return operation(*args)
        except PoolRefused:
            self.markets = saved
            raise

    def _listed(self, market: int) -> Market:
        _require(market < MARKETS, "unknown market", market)
        _require(market in self.markets, "market not listed", market)
        return self.markets[market]

    def _checkpoint(self, market: int, force: bool) -> None:
        m = self.markets[market]
        following = self.block + 1
        if following in m.checkpoints and not force:
            return
        effective = m.effective(self.block)
        now = self.indices(market)
        index = now.liquidity_index
        claims, backing = m.claims(index), m.backing(now.borrow_index)
        scaled = sum(m.supply.values()) + m.treasury
        factor = m.config.reserve_factor_bps
        if backing > claims:  # the interest since the last checkpoint
            interest = backing - claims
            reserved = interest if scaled == 0 else interest * factor // MAX_BPS
            if scaled:
                index += (interest - reserved) * RAY // scaled
            m.treasury += reserved * RAY // index
        supplied = (sum(m.supply.values()) + m.treasury) * index // RAY
        debt = sum(m.debt.values()) * now.borrow_index // RAY
        used = utilisation(debt, supplied)
        rate = borrow_rate(used, m.config)
        supply_rate = rate * used // RAY * (MAX_BPS - factor) // MAX_BPS
        m.checkpoints[following] = Checkpoint(
            index,
            now.borrow_index,
            rate,
            supply_rate,
            self.time,
            effective,
            supplied,
            debt,
        )
        if m.latest != following:
            m.latest = following
            older = m.checkpoints[effective].previous
            if older != effective:
                del m.checkpoints[older]

    def _supply(self, account: str, market: int, amount: int) -> int:
        m = self._listed(market)
        _require(amount > 0, "amount is zero", amount)
        scaled = amount * RAY // self.indices(market).liquidity_index
        _require(scaled > 0, "supply mints no balance", amount)
        if m.config.supply_cap:
            supplied = m.checkpoint(self.block).supplied
            _require(supplied + amount <= m.config.supply_cap, "supply cap exceeded", amount)
        m.cash += amount
        m.add(m.supply, account, scaled)
        return scaled

    def _withdraw(self, account: str, market: int, amount: int) -> int:
        m = self._listed(market)
        index = self.indices(market).liquidity_index
        balance = m.supply.get(account, 0)
        if amount == MAX_UINT:
            scaled, paid = balance, balance * index // RAY
        else:
            scaled, paid = div_up(amount * RAY, index), amount
        _require(paid > 0, "amount is zero", amount)
        _require(scaled <= balance, "withdrawal exceeds the supplied balance", amount)
        _require(paid <= m.cash, "not enough liquidity in the market", paid)
        m.supply[account] = balance - scaled
        m.cash -= paid
        held = self.position(account)
        _require(held.weighted >= held.debt, "withdrawal would put the health factor below 1", paid)
        return paid

    def _borrow(self, account: str, market: int, amount: int) -> int:
        m = self._listed(market)
        _require(market in LOANABLE, "market is collateral only", market)
        _require(amount > 0, "amount is zero", amount)
        if m.config.borrow_cap:
            borrowed = m.checkpoint(self.block).borrowed
            _require(borrowed + amount <= m.config.borrow_cap, "borrow cap exceeded", amount)
        scaled = div_up(amount * RAY, self.indices(market).borrow_index)
        m.add(m.debt, account, scaled)
        held = self.position(account)
        _require(held.debt <= held.power, "borrow exceeds the loan-to-value limit", amount)
        _require(amount <= m.cash, "not enough liquidity in the market", amount)
        m.cash -= amount
        return scaled

    def _repay(self, account: str, market: int, amount: int) -> int:
        m = self._listed(market)
        _require(market in LOANABLE, "market is collateral only", market)
        _require(amount > 0, "amount is zero", amount)
        owed = self.owed_by(market, account)
        _require(owed > 0, "no debt to repay", account)
        paid = min(amount, owed)
        m.cash += paid
        self._reduce_debt(market, account, paid, owed)
        return paid

    def _liquidate(
        self, liquidator: str, borrower: str, debt_market: int, collateral_market: int, amount: int
    ) -> tuple[int, int]:
        d = self._listed(debt_market)
        _require(debt_market in LOANABLE, "market is collateral only", debt_market)
        c = self._listed(collateral_market)
        _require(amount > 0, "amount is zero", amount)
        held = self.position(borrower)
        _require(held.weighted < held.debt, "position is healthy: health factor is not below 1", 0)
        owed = self.owed_by(debt_market, borrower)
        _require(owed > 0, "borrower has no debt in this market", borrower)
        available = self.supply_of(collateral_market, borrower)
        _require(available > 0, "borrower has no collateral in this market", borrower)
        repaid, seized = seizure(
            min(amount, owed * close_factor_bps(held) // MAX_BPS),
            self.prices[debt_market % 2],
            self.prices[collateral_market % 2],
            c.config.liquidation_bonus_bps,
            available,
        )
        _require(repaid > 0, "liquidation repays nothing", amount)
        d.cash += repaid
        self._reduce_debt(debt_market, borrower, repaid, owed)
        balance = c.supply[borrower]
        index = self.indices(collateral_market).liquidity_index
        scaled = balance if seized == available else seized * RAY // index
        c.supply[borrower] = balance - scaled
        c.add(c.supply, liquidator, scaled)
        if all(self.supply_of(m, borrower) == 0 for m in self.markets):
            self._write_off(borrower)
        return repaid, seized

    def _reduce_debt(self, market: int, account: str, paid: int, owed: int) -> None:
        m = self.markets[market]
        index = self.indices(market).borrow_index
        scaled = m.debt[account] if paid >= owed else paid * RAY // index
        m.debt[account] -= scaled

    def _write_off(self, account: str) -> None:
        for market in LOANABLE:
            m = self.markets.get(market)
            owed = 0 if m is None else self.owed_by(market, account)
            if m is None or owed == 0:
                continue
            m.debt[account] = 0
            index = self.indices(market).liquidity_index
            covered = min(owed, m.treasury * index // RAY)
            m.treasury -= min(div_up(covered * RAY, index), m.treasury)
            m.bad_debt += owed


def _require(condition: bool, reason: str, value: object) -> None:
    if not condition:
        raise PoolRefused(reason, value)
