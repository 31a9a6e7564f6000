"""Column types that keep amounts exact and timestamps in UTC on both SQLite and PostgreSQL."""

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect, Integer, Numeric, String
from sqlalchemy.types import TypeDecorator, TypeEngine

from bridge.ledger.errors import InvalidAmount, InvalidEvmAddress

WEI_DIGITS = 78
"""Decimal digits of a uint256, the widest amount the sidechain can hold."""

# An autoincrementing 64-bit key: SQLite only autoincrements a column declared INTEGER.
BigIntKey = BigInteger().with_variant(Integer(), "sqlite")

_EVM_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime; SQLite drops the zone, so it is put back on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"ledger timestamps must be timezone-aware, got {value!r}")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Wei(TypeDecorator[int]):
    """An exact uint256 amount: NUMERIC(78, 0) on PostgreSQL, decimal text on SQLite.

    SQLite turns numbers wider than 64 bits into floating point, so there the digits are kept
    as text (exact, but not comparable in SQL: filter amounts in Python).
    """

    impl = Numeric(WEI_DIGITS, 0)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(WEI_DIGITS))
        return dialect.type_descriptor(Numeric(WEI_DIGITS, 0))

    def process_bind_param(self, value: int | None, dialect: Dialect) -> str | Decimal | None:
        if value is None:
            return None
        return str(value) if dialect.name == "sqlite" else Decimal(value)

    def process_result_value(self, value: object, dialect: Dialect) -> int | None:
        return None if value is None else int(str(value))


def utcnow() -> datetime:
    return datetime.now(UTC)


def check_amount(field: str, value: object, *, maximum: int | None = None) -> int:
    """Return `value` if it is a non-negative int (not a bool, not a float) within `maximum`."""
    if type(value) is not int or value < 0 or (maximum is not None and value > maximum):
        raise InvalidAmount(field, value)
    return value


def normalize_evm_address(field: str, value: object) -> str:
    """Lower-case `0x` + 40 hex digits, so lookups match whatever checksum case was given."""
    if not isinstance(value, str) or not _EVM_ADDRESS.fullmatch(value):
        raise InvalidEvmAddress(field, value)
    return value.lower()
