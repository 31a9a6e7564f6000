"""The append-only audit log: rows are inserted by the ledger, never updated or deleted."""

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Mapper, Session

from bridge.ledger.errors import AuditLogIsAppendOnly
from bridge.ledger.models import AuditEntry


class AuditLog:
    """Appends and reads audit entries; there is deliberately no update or delete."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def append(
        self,
        record_kind: str,
        record_id: str,
        action: str,
        *,
        from_status: str | None = None,
        to_status: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        entry = AuditEntry(
            record_kind=record_kind,
            record_id=record_id,
            action=action,
            from_status=from_status,
            to_status=to_status,
            detail=None if detail is None else jsonable(detail),
        )
        self._session.add(entry)
        return entry

    def for_record(self, record_kind: str, record_id: str) -> Sequence[AuditEntry]:
        """The record's history, oldest first."""
        return self._session.scalars(
            select(AuditEntry)
            .where(AuditEntry.record_kind == record_kind, AuditEntry.record_id == record_id)
            .order_by(AuditEntry.id)
        ).all()

    def after(
        self,
        entry_id: int = 0,
        limit: int = 100,
        *,
        record_kind: str | None = None,
        action: str | None = None,
        to_status: str | None = None,
    ) -> Sequence[AuditEntry]:
        """Entries with id > `entry_id`, oldest first (to tail the log), optionally only those
        of one record kind, action and new status."""
        query = select(AuditEntry).where(AuditEntry.id > entry_id)
        for column, wanted in (
            (AuditEntry.record_kind, record_kind),
            (AuditEntry.action, action),
            (AuditEntry.to_status, to_status),
        ):
            if wanted is not None:
                query = query.where(column == wanted)
        return self._session.scalars(query.order_by(AuditEntry.id).limit(limit)).all()


def jsonable(value: Any) -> Any:
    """Make a detail value JSON-safe: bytes become hex, mappings and sequences are walked."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


@event.listens_for(AuditEntry, "before_update")
def _refuse_update(_mapper: Mapper[AuditEntry], _connection: object, entry: AuditEntry) -> None:
    raise AuditLogIsAppendOnly(entry.id, "update")


@event.listens_for(AuditEntry, "before_delete")
def _refuse_delete(_mapper: Mapper[AuditEntry], _connection: object, entry: AuditEntry) -> None:
    raise AuditLogIsAppendOnly(entry.id, "delete")
