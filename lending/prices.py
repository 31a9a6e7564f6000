"""A member's own view of prices: its source (a file or a command) and the rules it signs by.

A source says `{"BTC": "60000.00", "USDT": "1"}` (USD per coin, at most 8 decimals). The rules
are pure: when an update is due, what price to propose (the observation, or the largest step
the oracle's deviation limit allows toward it), and whether a proposal is close enough to this
member's own observation to sign.
"""

import asyncio
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Protocol

from lending.errors import PriceRefused, PriceSourceError
from lending.oracle import PRICE_DECIMALS
from lending.views import ASSET_NAMES

MAX_BPS = 10_000
MAX_SOURCE_BYTES = 64 * 1024
COMMAND_TIMEOUT_S = 10.0


def parse_prices(text: str, origin: str) -> dict[int, int]:
    """{asset id: price with 8 decimals}; `PriceSourceError` names the origin and the entry."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise PriceSourceError(f"{origin} is not JSON: {error}") from None
    if not isinstance(raw, dict):
        raise PriceSourceError(f'{origin} must hold an object like {{"BTC": "60000"}}')
    unknown = sorted(set(raw) - set(ASSET_NAMES))
    if unknown:
        raise PriceSourceError(f"{origin}: unknown asset {unknown[0]!r} (known: BTC, USDT)")
    prices = {}
    for asset, name in enumerate(ASSET_NAMES):
        if name in raw:
            prices[asset] = _price(raw[name], f"{origin}: {name}")
    return prices


def _price(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise PriceSourceError(f"{where} must be a decimal number, got {value!r}")
    try:
        price = Decimal(str(value))
    except InvalidOperation:
        raise PriceSourceError(f"{where} must be a decimal number, got {value!r}") from None
    scaled = price.scaleb(PRICE_DECIMALS)
    if not price.is_finite() or price <= 0 or scaled != scaled.to_integral_value():
        raise PriceSourceError(
            f"{where} must be positive with at most {PRICE_DECIMALS} decimals, got {value!r}"
        )
    return int(scaled)


class PriceSource(Protocol):
    async def observe(self) -> dict[int, int]: ...


@dataclass(frozen=True)
class FileSource:
    """A JSON file a person or a test edits (devnet); read afresh each time."""

    path: Path

    async def observe(self) -> dict[int, int]:
        try:
            with self.path.open("rb") as handle:
                text = handle.read(MAX_SOURCE_BYTES + 1)
        except OSError as error:
            reason = f"cannot read price file {self.path}: {error.strerror}"
            raise PriceSourceError(reason) from None
        if len(text) > MAX_SOURCE_BYTES:
            raise PriceSourceError(f"price file {self.path} is over {MAX_SOURCE_BYTES} bytes")
        return parse_prices(text.decode(errors="replace"), f"price file {self.path}")


@dataclass(frozen=True)
class CommandSource:
    """A command (argv, no shell) that prints the JSON, e.g. a member's exchange feed."""

    argv: tuple[str, ...]

    async def observe(self) -> dict[int, int]:
        name = self.argv[0]
        try:
            process = await asyncio.create_subprocess_exec(
                *self.argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
            )
            out, _ = await asyncio.wait_for(process.communicate(), COMMAND_TIMEOUT_S)
        except OSError as error:
            reason = f"price command {name} did not start: {error.strerror}"
            raise PriceSourceError(reason) from None
        except TimeoutError:
            process.kill()
            raise PriceSourceError(
                f"price command {name} gave no answer within {COMMAND_TIMEOUT_S:g} s"
            ) from None
        if process.returncode != 0:
            raise PriceSourceError(f"price command {name} exited with {process.returncode}")
        text = out[:MAX_SOURCE_BYTES].decode(errors="replace")
        return parse_prices(text, f"price command {name}")


def price_source(source_file: Path | None, source_command: tuple[str, ...]) -> PriceSource:
    return FileSource(source_file) if source_file is not None else CommandSource(source_command)


def moved_bps(price: int, reference: int) -> int:
    """How far `price` is from `reference`, in basis points of the reference (rounded up)."""
    return -(-abs(price - reference) * MAX_BPS // reference)


def step_toward(observed: int, current: int, max_deviation_bps: int) -> int:
    """The price to report: the observation, or the furthest the oracle accepts toward it
    from the current price (a larger move takes several rounds)."""
    if current == 0:
        return observed
    limit = current * max_deviation_bps // MAX_BPS
    return min(max(observed, current - limit), current + limit)


@dataclass(frozen=True)
class OnChainPrice:
    """The oracle's current report of an asset (price 0 before the first)."""

    price: int
    timestamp: int
    round: int


def update_due(
    observed: int, current: OnChainPrice, now: int, trigger_bps: int, heartbeat: float
) -> str | None:
    """Why a new report is due (for the log), or None."""
    if current.price == 0:
        return "no price yet"
    moved = moved_bps(observed, current.price)
    if moved >= trigger_bps:
        return f"moved {moved} bps"
    if now - current.timestamp >= heartbeat:
        return f"heartbeat ({now - current.timestamp} s since the last report)"
    return None


@dataclass(frozen=True)
class SigningRules:
    """What a member checks before co-signing a proposed report."""

    tolerance_bps: int
    max_deviation_bps: int
    max_clock_skew: int

    def check(
        self,
        asset: int,
        price: int,
        timestamp: int,
        round_: int,
        observed: int | None,
        current: OnChainPrice,
        now: int,
    ) -> None:
        """Raise `PriceRefused` unless this member would report about the same price now."""
        name = ASSET_NAMES[asset]
        if observed is None:
            raise PriceRefused(f"this member's source has no {name} price")
        if round_ != current.round + 1:
            raise PriceRefused(f"{name} round {round_} is not the next one ({current.round + 1})")
        if timestamp <= current.timestamp:
            raise PriceRefused(
                f"{name} report time {timestamp} is not after the current one {current.timestamp}"
            )
        if abs(timestamp - now) > self.max_clock_skew:
            raise PriceRefused(
                f"{name} report time {timestamp} is {timestamp - now:+d} s from this member's "
                f"clock (at most {self.max_clock_skew} s)"
            )
        own = step_toward(observed, current.price, self.max_deviation_bps)
        if moved_bps(price, own) > self.tolerance_bps:
            raise PriceRefused(
                f"{name} price {price} is {moved_bps(price, own)} bps from this member's "
                f"{own} (observed {observed}; tolerance {self.tolerance_bps} bps)"
            )
