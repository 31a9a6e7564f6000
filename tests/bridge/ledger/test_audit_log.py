"""The audit log is append-only: the ORM refuses changes, and so does the database itself."""

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from bridge.ledger import AuditEntry, AuditLogIsAppendOnly, DepositStatus, Ledger
from bridge.ledger.testing import deposit


def _entries(session: Session) -> list[tuple[int, str, str | None]]:
    rows = session.execute(select(AuditEntry.id, AuditEntry.action, AuditEntry.to_status))
    return [tuple(row) for row in rows.all()]  # type: ignore[misc]


@pytest.fixture
def logged(sessions: sessionmaker[Session]) -> list[tuple[int, str, str | None]]:
    with sessions() as session:
        ledger = Ledger(session)
        recorded = deposit(ledger)
        ledger.deposits.move(recorded.id, DepositStatus.CONFIRMED)
        session.commit()
        return _entries(session)


def test_the_orm_refuses_to_update_an_entry(sessions: sessionmaker[Session], logged: list) -> None:
    with sessions() as session:
        entry = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert entry is not None
        entry.to_status = "minted"
        with pytest.raises(AuditLogIsAppendOnly, match="update"):
            session.commit()
    with sessions() as session:
        assert _entries(session) == logged


def test_the_orm_refuses_to_delete_an_entry(sessions: sessionmaker[Session], logged: list) -> None:
    with sessions() as session:
        entry = session.scalars(select(AuditEntry)).first()
        session.delete(entry)
        with pytest.raises(AuditLogIsAppendOnly, match="delete"):
            session.commit()
    with sessions() as session:
        assert _entries(session) == logged


@pytest.mark.parametrize(
    "statement",
    [
        update(AuditEntry).values(to_status="minted"),
        delete(AuditEntry),
        text("UPDATE audit_log SET action = 'forged'"),
        text("DELETE FROM audit_log"),
    ],
    ids=["orm-update", "orm-delete", "sql-update", "sql-delete"],
)
def test_the_database_refuses_to_change_an_entry(
    sessions: sessionmaker[Session], logged: list, statement: object
) -> None:
    with sessions() as session:
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(statement)  # type: ignore[call-overload]
        session.rollback()
    with sessions() as session:
        assert _entries(session) == logged


def test_entries_are_read_in_order_by_record_and_after_an_id(
    session: Session, logged: list
) -> None:
    audit = Ledger(session).audit
    (first_id, _, _), (second_id, _, _) = logged[-2], logged[-1]
    assert [entry.id for entry in audit.after(first_id)] == [second_id]
    assert len(audit.after(0, limit=1)) == 1
    deposit_entries = [e for e in audit.after(0) if e.record_kind == "deposit"]
    record_id = deposit_entries[0].record_id
    assert [e.to_status for e in audit.for_record("deposit", record_id)] == ["seen", "confirmed"]
    appended = audit.append("operator", "0x01", "note", detail={"sig": b"\x01\x02", "n": 2**80})
    session.commit()
    session.refresh(appended)
    assert appended.detail == {"sig": "0102", "n": 2**80}
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == len(logged) + 1


def test_a_feed_tails_only_its_kind_of_entries(session: Session, logged: list) -> None:
    """What relayer.gossip reads: one record kind, action and new status, after an id."""
    audit = Ledger(session).audit
    confirmed = audit.after(0, record_kind="deposit", action="transition", to_status="confirmed")
    assert confirmed and all(e.to_status == "confirmed" for e in confirmed)
    assert all(e.record_kind == "deposit" for e in confirmed)
    assert audit.after(confirmed[-1].id, record_kind="deposit", to_status="confirmed") == []
    assert audit.after(0, record_kind="withdrawal", action="created") == []
