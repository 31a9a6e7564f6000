"""Cursor pagination: a stable order, every row exactly once, cursors checked."""

import itertools
from datetime import UTC, datetime

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from bridge.ledger import (
    MAX_PAGE_SIZE,
    Deposit,
    InvalidCursor,
    InvalidPageSize,
    Ledger,
    Page,
)
from bridge.ledger.testing import claim, deposit


def _walk(ledger: Ledger, limit: int, newest_first: bool = True) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        page: Page[Deposit] = ledger.deposits.page(
            cursor=cursor, limit=limit, newest_first=newest_first
        )
        pages.append([d.id for d in page.items])
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


def _flat(pages: list[list[str]]) -> list[str]:
    return list(itertools.chain.from_iterable(pages))


def test_pages_cover_every_row_once_newest_first(ledger: Ledger) -> None:
    ids = [deposit(ledger).id for _ in range(25)]
    ledger.session.commit()
    pages = _walk(ledger, 10)
    assert [len(page) for page in pages] == [10, 10, 5]
    assert _flat(pages) == list(reversed(ids))
    assert _flat(_walk(ledger, 7, newest_first=False)) == ids


def test_rows_added_while_paging_do_not_shift_later_pages(ledger: Ledger) -> None:
    ids = [deposit(ledger).id for _ in range(6)]
    ledger.session.commit()
    first = ledger.deposits.page(limit=3)
    added = deposit(ledger).id
    ledger.session.commit()
    second = ledger.deposits.page(limit=3, cursor=first.next_cursor)
    assert [d.id for d in first.items + second.items] == list(reversed(ids))
    assert added not in [d.id for d in second.items]
    assert ledger.deposits.page(limit=1).items[0].id == added


def test_rows_with_the_same_timestamp_are_ordered_by_id(ledger: Ledger) -> None:
    ids = [deposit(ledger).id for _ in range(5)]
    same_instant = datetime(2026, 1, 1, tzinfo=UTC)
    ledger.session.execute(
        update(Deposit).values(created_at=same_instant).execution_options(synchronize_session=False)
    )
    ledger.session.commit()
    ledger.session.expire_all()
    assert _flat(_walk(ledger, 2)) == sorted(ids, reverse=True)
    assert _flat(_walk(ledger, 2, newest_first=False)) == sorted(ids)


def test_a_page_of_integer_keyed_records_pages_too(ledger: Ledger) -> None:
    claims = [claim(ledger).id for _ in range(3)]
    ledger.session.commit()
    first = ledger.claims.page(limit=2)
    rest = ledger.claims.page(limit=2, cursor=first.next_cursor)
    assert [c.id for c in first.items + rest.items] == list(reversed(claims))
    assert rest.next_cursor is None


@pytest.mark.parametrize("cursor", ["", "not-a-cursor", "W10", "eyJhIjoxfQ"])
def test_a_cursor_the_ledger_did_not_issue_is_refused(ledger: Ledger, cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        ledger.deposits.page(cursor=cursor)


def test_a_cursor_for_another_order_or_another_key_type_is_refused(ledger: Ledger) -> None:
    for _ in range(3):
        deposit(ledger)
        claim(ledger)
    ledger.session.commit()
    newest_first = ledger.deposits.page(limit=1).next_cursor
    with pytest.raises(InvalidCursor):
        ledger.deposits.page(limit=1, cursor=newest_first, newest_first=False)
    claim_cursor = ledger.claims.page(limit=1).next_cursor
    with pytest.raises(InvalidCursor):
        ledger.deposits.page(limit=1, cursor=claim_cursor)


@pytest.mark.parametrize("limit", [0, -1, MAX_PAGE_SIZE + 1])
def test_a_page_size_out_of_range_is_refused(ledger: Ledger, limit: int) -> None:
    with pytest.raises(InvalidPageSize, match=str(limit)):
        ledger.deposits.page(limit=limit)


def test_the_largest_page_size_is_accepted(session: Session) -> None:
    page = Ledger(session).deposits.page(limit=MAX_PAGE_SIZE)
    assert (list(page.items), page.next_cursor) == ([], None)
