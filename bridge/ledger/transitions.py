"""The one function that moves a record's status: checked, race-safe and audited."""

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import CursorResult, inspect, select, update
from sqlalchemy.orm import Session

from bridge.ledger.audit import AuditLog
from bridge.ledger.errors import DuplicateRecord, StatusChangedConcurrently, TransitionNotAllowed
from bridge.ledger.models import AuditEntry, Tracked
from bridge.ledger.types import utcnow

MAX_IDS_PER_QUERY = 500


def apply_transition(
    session: Session,
    record: Tracked,
    to_status: StrEnum | str,
    *,
    changes: Mapping[str, Any] | None = None,
    detail: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Move `record` to `to_status`, setting `changes` with it, and append an audit entry.

    Raises `TransitionNotAllowed` (before writing anything) when the record's state machine
    has no such edge, and `StatusChangedConcurrently` when another transaction moved the row
    since it was loaded (the guarded UPDATE matched nothing, so nothing was written).
    """
    machine = record.state_machine
    from_status = record.status
    try:
        target = machine.status_type(to_status)
    except ValueError:
        target = None
    if target is None or not machine.allows(from_status, target):
        raise TransitionNotAllowed(
            machine.record_kind, record.record_id, str(from_status), str(to_status)
        )
    model = type(record)
    record_id = record.record_id
    mapper = inspect(model)
    (key,) = mapper.primary_key
    (key_value,) = mapper.primary_key_from_instance(record)
    values = {**(changes or {}), "status": target, "updated_at": utcnow()}
    result = session.execute(
        update(model)
        .where(key == key_value, model.status == from_status)
        .values(values)
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], result).rowcount != 1:
        raise StatusChangedConcurrently(machine.record_kind, record_id, str(from_status))
    session.expire(record)  # reloaded on next access, with every column the UPDATE set
    audit_detail = {**(detail or {}), **({"changes": dict(changes)} if changes else {})}
    return AuditLog(session).append(
        machine.record_kind,
        record_id,
        "transition",
        from_status=str(from_status),
        to_status=str(target),
        detail=audit_detail or None,
    )


def add_records(
    session: Session,
    records: Sequence[Tracked],
    *,
    details: Sequence[Mapping[str, Any] | None] | None = None,
) -> list[AuditEntry]:
    """Insert new tracked records (each in an initial status) and audit each creation.

    Checks every record before writing any: a status that is not initial raises
    `TransitionNotAllowed`, an id already stored or repeated in `records` `DuplicateRecord`.
    One SELECT finds existing ids and one flush inserts the batch.
    """
    seen: set[tuple[type[Tracked], Any]] = set()
    for record in records:
        machine = record.state_machine
        if record.status not in machine.initial:
            raise TransitionNotAllowed(machine.record_kind, "(new)", "(none)", str(record.status))
        (key_value,) = inspect(type(record)).primary_key_from_instance(record)
        if key_value is not None:
            if (type(record), key_value) in seen:
                raise DuplicateRecord(machine.record_kind, str(key_value))
            seen.add((type(record), key_value))
    for model in {model for model, _ in seen}:
        (key,) = inspect(model).primary_key
        wanted = [value for kind, value in seen if kind is model]
        for start in range(0, len(wanted), MAX_IDS_PER_QUERY):
            chunk = wanted[start : start + MAX_IDS_PER_QUERY]
            taken = session.scalars(select(key).where(key.in_(chunk))).first()
            if taken is not None:
                raise DuplicateRecord(model.state_machine.record_kind, str(taken))
    session.add_all(records)
    session.flush()
    audit = AuditLog(session)
    return [
        audit.append(
            record.state_machine.record_kind,
            record.record_id,
            "created",
            to_status=str(record.status),
            detail=detail,
        )
        for record, detail in zip(records, details or [None] * len(records), strict=True)
    ]


def add_record(
    session: Session, record: Tracked, *, detail: Mapping[str, Any] | None = None
) -> AuditEntry:
    """Insert one new tracked record (see `add_records`)."""
    (entry,) = add_records(session, [record], details=[detail])
    return entry
