"""What the lending pool holds, read from a node at one block: markets and positions.

The API (`GET /v1/markets`, `GET /v1/positions/{address}`) and the liquidator read through
here. Everything comes from views that never revert: the oracle's stored reports (so a stale
price is shown as stale, not as an error), balances, rates and totals. Positions are weighed
in Python with the pool's own formula (`pool_model.weigh`), at the stored prices.
"""

from dataclasses import dataclass
from typing import Any, Protocol

from eth_typing import Address
from eth_utils import to_checksum_address

from lending.deploy import MARKET_BTC, MARKET_USDT
from lending.pool_model import (
    MARKETS,
    PRICE_UNIT,
    Holding,
    MarketConfig,
    Position,
    health_factor,
    weigh,
)
from sidechain.contracts import load_artifact
from sidechain.predeploys import LEVERAGE_ROUTER_ADDRESS, ORACLE_ADDRESS, POOL_ADDRESS

LOANABLE = (MARKET_BTC, MARKET_USDT)
MARKET_NAMES = ("BTC", "USDT", "rsBTC", "rsUSDT")
ASSET_NAMES = ("BTC", "USDT")
ZERO_ADDRESS = "0x" + "00" * 20


class NodeCalls(Protocol):
    """A JSON-RPC client of the node (the API's or the relayer's)."""

    async def call(self, method: str, *params: Any) -> Any: ...


async def read_view(
    node: NodeCalls,
    contract: str,
    address: Address,
    function: str,
    *args: Any,
    block: int | None = None,
) -> Any:
    """The decoded return value of a contract's view at `block` (default: the latest), a tuple
    when it returns several values."""
    artifact = load_artifact(contract)
    request = {
        "to": to_checksum_address(address),
        "data": "0x" + artifact.calldata(function, *args).hex(),
    }
    raw = await node.call("eth_call", request, "latest" if block is None else hex(block))
    values = artifact.decode_output(function, bytes.fromhex(str(raw)[2:]))
    return values[0] if len(values) == 1 else values


def asset_of(market: int) -> int:
    """The oracle asset that prices a market (rsX is priced as X times the vault's rate)."""
    return market % 2


@dataclass(frozen=True)
class Snapshot:
    """Reads pinned to one block, so every figure of an answer belongs together."""

    node: NodeCalls
    block: int
    timestamp: int

    @classmethod
    async def latest(cls, node: NodeCalls) -> "Snapshot":
        head = await node.call("eth_getBlockByNumber", "latest", False)
        return cls(node, int(head["number"], 16), int(head["timestamp"], 16))

    async def read(self, contract: str, address: Address, function: str, *args: Any) -> Any:
        return await read_view(self.node, contract, address, function, *args, block=self.block)

    async def pool(self, function: str, *args: Any) -> Any:
        return await self.read("LendingPool", POOL_ADDRESS, function, *args)


@dataclass(frozen=True)
class PriceView:
    """The oracle's stored report of an asset (price 0: none yet) and whether it is stale."""

    asset: int
    price: int  # USD per coin, 8 decimals
    timestamp: int
    round: int
    age: int  # seconds at the snapshot's block
    stale: bool

    @property
    def usable(self) -> bool:
        """The pool can use it: the oracle would return it rather than revert."""
        return self.price > 0 and not self.stale


async def read_prices(snapshot: Snapshot) -> tuple[PriceView, PriceView]:
    max_age = int(await snapshot.read("PriceOracle", ORACLE_ADDRESS, "max_age"))
    views = []
    for asset in (MARKET_BTC, MARKET_USDT):
        price, at, round_ = await snapshot.read("PriceOracle", ORACLE_ADDRESS, "reports", asset)
        age = max(snapshot.timestamp - at, 0)
        views.append(PriceView(asset, price, at, round_, age, price == 0 or age > max_age))
    return views[0], views[1]


async def read_configs(snapshot: Snapshot) -> tuple[MarketConfig, ...]:
    configs = [await snapshot.pool("markets", market) for market in range(MARKETS)]
    return tuple(MarketConfig.from_tuple(config) for config in configs)


@dataclass(frozen=True)
class MarketView:
    """A market's settings, price and, for BTC and USDT, its rates and totals (base units;
    rates are yearly, in rays, as set by the checkpoint in force)."""

    market: int
    config: MarketConfig
    price: PriceView
    rates: tuple[int, int, int] | None  # utilisation, borrow rate, supply rate
    totals: dict[str, int] | None  # supplied, borrowed, reserves, deficit, bad_debt

    @property
    def name(self) -> str:
        return MARKET_NAMES[self.market]

    @property
    def loanable(self) -> bool:
        return self.market in LOANABLE


async def read_markets(snapshot: Snapshot) -> list[MarketView]:
    prices = await read_prices(snapshot)
    configs = await read_configs(snapshot)
    views = []
    for market, config in enumerate(configs):
        rates = totals = None
        if market in LOANABLE and config.listed:
            rates = await snapshot.pool("rates", market)
            totals = {
                "supplied": await snapshot.pool("total_supplied", market),
                "borrowed": await snapshot.pool("total_borrowed", market),
                "reserves": await snapshot.pool("reserves", market),
                "deficit": await snapshot.pool("deficit", market),
                "bad_debt": await snapshot.pool("bad_debt", market),
            }
        views.append(MarketView(market, config, prices[asset_of(market)], rates, totals))
    return views


@dataclass(frozen=True)
class LiquidationPrice:
    """The price of `asset` at which the health factor reaches 1, others unchanged: the
    position is liquidated when the price falls to it (`falls`) or rises to it."""

    asset: int
    price: int
    falls: bool


@dataclass(frozen=True)
class PositionView:
    """An account's collateral and debt per market (base units) at the stored prices."""

    account: str
    holdings: tuple[Holding, ...]  # by market
    prices: tuple[PriceView, PriceView]
    leverage_account: str | None

    @property
    def position(self) -> Position:
        return weigh(self.holdings)

    @property
    def health_factor(self) -> int:
        return health_factor(self.position)

    @property
    def has_debt(self) -> bool:
        return any(held.owed for held in self.holdings)

    @property
    def has_collateral(self) -> bool:
        return any(held.collateral for held in self.holdings)

    @property
    def liquidatable(self) -> bool:
        """Below health factor 1 at usable prices (what LendingPool.liquidate checks)."""
        held = self.position
        return all(p.usable for p in self.prices) and held.weighted < held.debt

    def liquidation_prices(self) -> list[LiquidationPrice]:
        return [p for p in map(self.liquidation_price, (MARKET_BTC, MARKET_USDT)) if p]

    def liquidation_price(self, asset: int) -> LiquidationPrice | None:
        """None when no price of `asset` (others fixed) brings the health factor to 1."""
        exposed = [h for m, h in enumerate(self.holdings) if asset_of(m) == asset]
        others = [h for m, h in enumerate(self.holdings) if asset_of(m) != asset]
        # weighted collateral and debt of `asset` in base units, the rest in USD * 10**-8
        weighted = sum(h.collateral * h.config.liquidation_threshold_bps for h in exposed)
        debt = sum(h.owed for h in exposed) * 10_000
        rest = weigh(others)
        if weighted == debt or not self.has_debt:
            return None
        price = (rest.debt - rest.weighted) * PRICE_UNIT * 10_000 // (weighted - debt)
        if price <= 0:
            return None
        return LiquidationPrice(asset, price, falls=weighted > debt)


async def read_position(snapshot: Snapshot, account: str) -> PositionView:
    prices = await read_prices(snapshot)
    configs = await read_configs(snapshot)
    holdings = []
    for market, config in enumerate(configs):
        collateral = await snapshot.pool("supply_balance", market, account)
        owed = await snapshot.pool("debt_balance", market, account) if market in LOANABLE else 0
        holdings.append(Holding(config, collateral, owed, prices[asset_of(market)].price))
    leverage = await snapshot.read("LeverageRouter", LEVERAGE_ROUTER_ADDRESS, "accounts", account)
    return PositionView(
        to_checksum_address(account),
        tuple(holdings),
        prices,
        None if leverage == ZERO_ADDRESS else to_checksum_address(leverage),
    )
