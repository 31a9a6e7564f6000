"""Keyset pagination with a stable order: (created_at, primary key), behind an opaque cursor."""

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import Select, and_, inspect, or_
from sqlalchemy.orm import Session

from bridge.ledger.errors import InvalidCursor, InvalidPageSize

MAX_PAGE_SIZE = 1000
T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """Up to `limit` items; `next_cursor` fetches the following page, None on the last one."""

    items: Sequence[T]
    next_cursor: str | None


def paginate(
    session: Session,
    query: Select[Any],
    model: type[T],
    *,
    cursor: str | None = None,
    limit: int = 50,
    newest_first: bool = True,
) -> Page[T]:
    """Run `query` (already filtered) one page at a time, in an order rows never leave.

    New rows inserted while a client pages appear on a newest-first client's first page, never
    in the middle, and no row is returned twice or skipped.
    """
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidPageSize(limit, MAX_PAGE_SIZE)
    created_at = model.created_at  # type: ignore[attr-defined]
    (key,) = inspect(model).primary_key
    direction = "desc" if newest_first else "asc"
    if cursor is not None:
        after_time, after_key = _decode(cursor, direction, key.type.python_type)
        if newest_first:
            beyond = or_(created_at < after_time, and_(created_at == after_time, key < after_key))
        else:
            beyond = or_(created_at > after_time, and_(created_at == after_time, key > after_key))
        query = query.where(beyond)
    order = (created_at.desc(), key.desc()) if newest_first else (created_at.asc(), key.asc())
    rows = cast(Sequence[T], session.scalars(query.order_by(*order).limit(limit + 1)).all())
    items = rows[:limit]
    if len(rows) <= limit:
        return Page(items, None)
    last = items[-1]
    (last_key,) = inspect(model).primary_key_from_instance(last)
    return Page(items, _encode(last.created_at, last_key, direction))  # type: ignore[attr-defined]


def _encode(created_at: datetime, key: Any, direction: str) -> str:
    raw = json.dumps([created_at.isoformat(), key, direction], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str, direction: str, key_type: type) -> tuple[datetime, Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_at, key, cursor_direction = json.loads(base64.urlsafe_b64decode(padded))
        when = datetime.fromisoformat(created_at)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as error:
        raise InvalidCursor(cursor) from error
    if cursor_direction != direction or when.tzinfo is None or type(key) is not key_type:
        raise InvalidCursor(cursor)
    return when, key
