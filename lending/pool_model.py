"""An exact integer model of LendingPool.vy's BTC and USDT markets, the property tests' reference.

Every operation runs at the model's current (block, timestamp), raises PoolRefused with the
contract's revert reason where the contract reverts, and then leaves the model unchanged.
Restaking collateral (rsBTC, rsUSDT) is not modelled: its value comes from the vaults.
"""

import copy
from dataclasses import astuple, dataclass, field

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


@dataclass
class Market:
    """One loanable market: indices, scaled balances, reserves, losses and the cash held."""

    config: MarketConfig
    accrued_block: int
    accrued_at: int
    liquidity_index: int = RAY
    borrow_index: int = RAY
    reserves: int = 0
    bad_debt: int = 0
    deficit: int = 0
    cash: int = 0
    supply: dict[str, int] = field(default_factory=dict)
    debt: dict[str, int] = field(default_factory=dict)

    def supply_of(self, account: str) -> int:
        return self.supply.get(account, 0) * self.liquidity_index // RAY

    def owed_by(self, account: str) -> int:
        return div_up(self.debt.get(account, 0) * self.borrow_index, RAY)

    def add(self, book: dict[str, int], account: str, scaled: int) -> None:
        book[account] = book.get(account, 0) + scaled


@dataclass(frozen=True)
class Position:
    power: int
    weighted: int
    debt: int


@dataclass
class PoolModel:
    """The pool at (block, time); `prices[asset]` is what the oracle returns."""

    block: int
    time: int
    markets: dict[int, Market] = field(default_factory=dict)
    prices: dict[int, int] = field(default_factory=dict)

    def configure(self, market: int, config: MarketConfig) -> None:
        if market not in self.markets:
            self.markets[market] = Market(config, self.block, self.time)
        else:
            self._accrue(market)
            self.markets[market].config = config

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
        power = weighted = debt = 0
        for index, market in self.markets.items():
            collateral, owed = market.supply_of(account), market.owed_by(account)
            if collateral == 0 and owed == 0:
                continue
            price = self.prices[index % 2]
            value = collateral * price // PRICE_UNIT
            power += value * market.config.ltv_bps // MAX_BPS
            weighted += value * market.config.liquidation_threshold_bps // MAX_BPS
            debt += div_up(owed * price, PRICE_UNIT)
        return Position(power, weighted, debt)

    def health_factor(self, account: str) -> int:
        held = self.position(account)
        return MAX_UINT if held.debt == 0 else held.weighted * WAD // held.debt

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

    def _accrue(self, market: int) -> None:
        m = self.markets[market]
        if m.accrued_block == self.block:
            return
        elapsed = self.time - m.accrued_at
        scaled_debt = sum(m.debt.values()) if elapsed > 0 else 0
        m.accrued_block, m.accrued_at = self.block, self.time
        if scaled_debt == 0:
            return
        scaled_supply = sum(m.supply.values())
        debt = scaled_debt * m.borrow_index // RAY
        rate = borrow_rate(utilisation(debt, scaled_supply * m.liquidity_index // RAY), m.config)
        m.borrow_index = grow(m.borrow_index, rate, elapsed)
        interest = scaled_debt * m.borrow_index // RAY - debt
        cut = interest * m.config.reserve_factor_bps // MAX_BPS
        if scaled_supply == 0:
            cut = interest
        else:
            m.liquidity_index += (interest - cut) * RAY // scaled_supply
        m.reserves += cut

    def _accrue_all(self) -> None:
        for market in LOANABLE:
            if market in self.markets:
                self._accrue(market)

    def _supply(self, account: str, market: int, amount: int) -> int:
        m = self._listed(market)
        _require(amount > 0, "amount is zero", amount)
        self._accrue_all()
        scaled = amount * RAY // m.liquidity_index
        _require(scaled > 0, "supply mints no balance", amount)
        if m.config.supply_cap:
            supplied = sum(m.supply.values()) * m.liquidity_index // RAY
            _require(supplied + amount <= m.config.supply_cap, "supply cap exceeded", amount)
        m.cash += amount
        m.add(m.supply, account, scaled)
        return scaled

    def _withdraw(self, account: str, market: int, amount: int) -> int:
        m = self._listed(market)
        self._accrue_all()
        balance = m.supply.get(account, 0)
        if amount == MAX_UINT:
            scaled, paid = balance, balance * m.liquidity_index // RAY
        else:
            scaled, paid = div_up(amount * RAY, m.liquidity_index), amount
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
        self._accrue_all()
        _require(amount <= m.cash, "not enough liquidity in the market", amount)
        if m.config.borrow_cap:
            borrowed = sum(m.debt.values()) * m.borrow_index // RAY
            _require(borrowed + amount <= m.config.borrow_cap, "borrow cap exceeded", amount)
        scaled = div_up(amount * RAY, m.borrow_index)
        m.add(m.debt, account, scaled)
        held = self.position(account)
        _require(held.debt <= held.power, "borrow exceeds the loan-to-value limit", amount)
        m.cash -= amount
        return scaled

    def _repay(self, account: str, market: int, amount: int) -> int:
        m = self._listed(market)
        _require(market in LOANABLE, "market is collateral only", market)
        _require(amount > 0, "amount is zero", amount)
        self._accrue_all()
        owed = m.owed_by(account)
        _require(owed > 0, "no debt to repay", account)
        paid = min(amount, owed)
        m.cash += paid
        self._reduce_debt(m, account, paid, owed)
        return paid

    def _liquidate(
        self, liquidator: str, borrower: str, debt_market: int, collateral_market: int, amount: int
    ) -> tuple[int, int]:
        d = self._listed(debt_market)
        _require(debt_market in LOANABLE, "market is collateral only", debt_market)
        c = self._listed(collateral_market)
        _require(amount > 0, "amount is zero", amount)
        self._accrue_all()
        held = self.position(borrower)
        _require(held.weighted < held.debt, "position is healthy: health factor is not below 1", 0)
        owed = d.owed_by(borrower)
        _require(owed > 0, "borrower has no debt in this market", borrower)
        available = c.supply_of(borrower)
        _require(available > 0, "borrower has no collateral in this market", borrower)
        close = MAX_BPS if held.weighted * WAD < held.debt * FULL_CLOSE_HEALTH else CLOSE_FACTOR_BPS
        repaid = min(amount, owed * close // MAX_BPS)
        debt_price, collateral_price = (
            self.prices[debt_market % 2],
            self.prices[collateral_market % 2],
        )
        bonus = c.config.liquidation_bonus_bps
        seized = repaid * debt_price * (MAX_BPS + bonus) // (MAX_BPS * collateral_price)
        if seized >= available:
            seized = available
            repaid = min(
                repaid, available * collateral_price * MAX_BPS // (debt_price * (MAX_BPS + bonus))
            )
        _require(repaid > 0, "liquidation repays nothing", amount)
        d.cash += repaid
        self._reduce_debt(d, borrower, repaid, owed)
        balance = c.supply[borrower]
        scaled = balance if seized == available else seized * RAY // c.liquidity_index
        c.supply[borrower] = balance - scaled
        c.add(c.supply, liquidator, scaled)
        if all(m.supply_of(borrower) == 0 for m in self.markets.values()):
            self._write_off(borrower)
        return repaid, seized

    def _reduce_debt(self, m: Market, account: str, paid: int, owed: int) -> None:
        scaled = m.debt[account] if paid >= owed else paid * RAY // m.borrow_index
        m.debt[account] -= scaled

    def _write_off(self, account: str) -> None:
        for market in LOANABLE:
            m = self.markets.get(market)
            if m is None or m.owed_by(account) == 0:
                continue
            owed = m.owed_by(account)
            m.debt[account] = 0
            covered = min(owed, m.reserves)
            m.reserves -= covered
            m.bad_debt += owed
            m.deficit += owed - covered


def _require(condition: bool, reason: str, value: object) -> None:
    if not condition:
        raise PoolRefused(reason, value)
