"""Every status edge of every state machine: allowed ones move and audit, the rest write nothing."""

import itertools

import pytest
from sqlalchemy import func, inspect, select, update
from sqlalchemy.orm import Session, sessionmaker

from bridge.ledger import (
    AuditEntry,
    DepositStatus,
    Ledger,
    ReleaseStatus,
    StatusChangedConcurrently,
    TransitionNotAllowed,
    WithdrawalStatus,
    apply_transition,
)
from bridge.ledger import states as machines
from bridge.ledger.models import Tracked
from bridge.ledger.testing import BUILDERS

MACHINES = [
    machines.DEPOSIT,
    machines.WITHDRAWAL,
    machines.RELEASE,
    machines.CLAIM,
    machines.CHALLENGE,
    machines.COMMITMENT,
]


def _audit_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEntry)) or 0


def _force_status(session: Session, record: Tracked, status: str) -> None:
    """Test setup only: put a record in `status` without going through the state machine."""
    model = type(record)
    (key,) = inspect(model).primary_key
    session.execute(
        update(model)
        .where(key == getattr(record, key.key))
        .values(status=status)
        .execution_options(synchronize_session="fetch")
    )
    session.commit()


def _stored_status(sessions: sessionmaker[Session], record: Tracked) -> str:
    with sessions() as fresh:
        stored = fresh.get(type(record), inspect(record).identity)
        assert stored is not None
        return str(stored.status)


@pytest.mark.parametrize("machine", MACHINES, ids=lambda machine: machine.record_kind)
def test_every_listed_edge_moves_and_audits_and_every_other_is_refused_without_writing(
    machine: machines.StateMachine, sessions: sessionmaker[Session]
) -> None:
    build = BUILDERS[machine.record_kind]
    statuses = list(machine.status_type)
    for from_status, to_status in itertools.product(statuses, statuses):
        with sessions() as session:
            record = build(Ledger(session))
            session.commit()
            _force_status(session, record, from_status)
            audit_before = _audit_count(session)
            if machine.allows(from_status, to_status):
                entry = apply_transition(session, record, to_status, detail={"why": "test"})
                session.commit()
                assert (entry.from_status, entry.to_status) == (from_status, to_status)
                assert entry.record_id == record.record_id
                assert _audit_count(session) == audit_before + 1
                assert _stored_status(sessions, record) == to_status
            else:
                with pytest.raises(TransitionNotAllowed) as refused:
                    apply_transition(session, record, to_status)
                assert (refused.value.from_status, refused.value.to_status) == (
                    from_status,
                    to_status,
                )
                assert refused.value.record_id == record.record_id
                session.commit()  # even a caller that commits after the error wrote nothing
                assert _audit_count(session) == audit_before
                assert _stored_status(sessions, record) == from_status


@pytest.mark.parametrize("machine", MACHINES, ids=lambda machine: machine.record_kind)
def test_a_status_the_machine_does_not_know_is_refused(
    machine: machines.StateMachine, session: Session
) -> None:
    record = BUILDERS[machine.record_kind](Ledger(session))
    with pytest.raises(TransitionNotAllowed, match="-> flying is not allowed"):
        apply_transition(session, record, "flying")


def test_the_deposit_lifecycle_of_the_brief_is_allowed() -> None:
    d = DepositStatus
    for path in (
        [d.SEEN, d.CONFIRMED, d.ATTESTED, d.MINTED],
        [d.SEEN, d.REJECTED],
        [d.SEEN, d.REORGED, d.SEEN],
        [d.CONFIRMED, d.REORGED, d.SEEN],
    ):
        assert all(machines.DEPOSIT.allows(a, b) for a, b in itertools.pairwise(path)), path
    assert not machines.DEPOSIT.allows(d.SEEN, d.MINTED)
    assert not machines.DEPOSIT.allows(d.REJECTED, d.MINTED)


def test_the_withdrawal_lifecycle_of_the_brief_is_allowed() -> None:
    w = WithdrawalStatus
    happy = [w.REQUESTED, w.WINDOW_OPEN, w.READY, w.RELEASING, w.RELEASED, w.CONFIRMED]
    assert all(machines.WITHDRAWAL.allows(a, b) for a, b in itertools.pairwise(happy))
    assert machines.WITHDRAWAL.allows(w.WINDOW_OPEN, w.CHALLENGED)
    assert machines.WITHDRAWAL.allows(w.CHALLENGED, w.REFUNDED)
    assert not machines.WITHDRAWAL.allows(w.WINDOW_OPEN, w.RELEASING)
    assert machines.WITHDRAWAL.is_terminal(w.CONFIRMED)
    assert machines.RELEASE.is_terminal(ReleaseStatus.REPLACED)


def test_a_status_moved_by_another_session_is_not_overwritten(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as setup:
        deposit = BUILDERS["deposit"](Ledger(setup))
        setup.commit()
    with sessions() as first, sessions() as second:
        mine, theirs = Ledger(first), Ledger(second)
        stale = theirs.deposits.require(deposit.id)
        second.commit()  # end the read, as a loop that loaded the row earlier would
        mine.deposits.move(deposit.id, DepositStatus.REJECTED)
        first.commit()
        audit_before = _audit_count(second)
        with pytest.raises(StatusChangedConcurrently) as raced:
            apply_transition(second, stale, DepositStatus.CONFIRMED)
        assert raced.value.expected_status == DepositStatus.SEEN
        second.commit()
        assert _audit_count(second) == audit_before
    assert _stored_status(sessions, deposit) == DepositStatus.REJECTED
