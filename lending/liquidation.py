"""Which liquidation of a position pays best, in the pool's own arithmetic (pool_model).

Pure: the liquidator (lending.liquidator) reads the position and its own inventory, asks here
for the best (debt market, collateral market, amount), then checks it against gas on the node.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from lending.pool_model import MAX_BPS, PRICE_UNIT, close_factor_bps, seizure
from lending.views import LOANABLE, MARKET_NAMES, PositionView

WEI_PER_SAT = 10**10


@dataclass(frozen=True)
class Inventory:
    """What the liquidator can repay with, per loanable market (base units), and the
    collateral markets it can receive (a restaking token only of the operator it holds)."""

    spendable: dict[int, int]
    receivable: frozenset[int]


@dataclass(frozen=True)
class Plan:
    """Offer `offered` of `debt_market` (the close factor's share of the debt, as far as the
    inventory goes); the pool takes `repaid` of it for `seized` of `collateral_market`, and
    all the collateral when it cannot cover the offer (writing off what is left). `gain` is
    the bonus's value (USD * 10**-8) before gas."""

    borrower: str
    debt_market: int
    collateral_market: int
    offered: int
    repaid: int
    seized: int
    gain: int

    def describe(self) -> str:
        debt, collateral = MARKET_NAMES[self.debt_market], MARKET_NAMES[self.collateral_market]
        return (
            f"repay {coins(self.repaid)} {debt} of {self.borrower} for "
            f"{coins(self.seized)} {collateral}"
        )


def coins(amount: int) -> str:
    """Base units (10**-8: sats, USDT units, prices in USD) as a decimal, for the log."""
    return str(Decimal(amount).scaleb(-8))


def value(amount: int, price: int) -> int:
    """USD * 10**-8 of `amount` base units at `price` (USD per coin, 8 decimals)."""
    return amount * price // PRICE_UNIT


def gas_value(gas: int, gas_price_wei: int, btc_price: int) -> int:
    """What `gas` costs in USD * 10**-8 (gas is paid in BTC), rounded up."""
    sats = -(-gas * gas_price_wei // WEI_PER_SAT)
    return -(-sats * btc_price // PRICE_UNIT)


def plans(view: PositionView, inventory: Inventory) -> Iterable[Plan]:
    """Every liquidation the inventory can pay for, as the pool would settle it now."""
    close = close_factor_bps(view.position)
    for d in LOANABLE:
        owed = view.holdings[d].owed
        offer = min(owed * close // MAX_BPS, inventory.spendable.get(d, 0))
        if offer == 0:
            continue
        for c, held in enumerate(view.holdings):
            if held.collateral == 0 or c not in inventory.receivable:
                continue
            debt_price = view.holdings[d].price
            repaid, seized = seizure(
                offer, debt_price, held.price, held.config.liquidation_bonus_bps, held.collateral
            )
            if repaid > 0:
                gain = value(seized, held.price) - value(repaid, debt_price)
                yield Plan(view.account, d, c, offer, repaid, seized, gain)


def best_plan(view: PositionView, inventory: Inventory) -> Plan | None:
    """The plan that gains most, or None when the position is healthy or nothing fits."""
    if not view.liquidatable:
        return None
    return max(plans(view, inventory), key=lambda plan: plan.gain, default=None)
