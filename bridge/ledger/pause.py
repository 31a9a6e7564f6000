"""The bridge's pause flag: set when a reorg deeper than the depth removes a minted deposit, or
by an operator (the API's admin endpoints); deposit loops and the API read it from here."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from bridge.ledger.audit import AuditLog
from bridge.ledger.errors import PauseReasonTooLong
from bridge.ledger.models import PAUSE_REASON, BridgePause

MAX_REASON_CHARS = PAUSE_REASON
_ROW_ID = 1


@dataclass(frozen=True)
class PauseState:
    paused: bool
    reason: str | None
    since: datetime | None  # when the flag last changed (None: never set)


class PauseRepository:
    """One row holds the flag; every change is audited (record kind `bridge`)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def state(self) -> PauseState:
        row = self._session.get(BridgePause, _ROW_ID)
        if row is None:
            return PauseState(False, None, None)
        return PauseState(row.paused, row.reason if row.paused else None, row.changed_at)

    def set(self, paused: bool, reason: str | None) -> PauseState:
        """Store the flag and audit the change (a no-op change is audited too: who asked)."""
        if reason is not None and len(reason) > MAX_REASON_CHARS:
            raise PauseReasonTooLong(len(reason), MAX_REASON_CHARS)
        row = self._session.get(BridgePause, _ROW_ID)
        if row is None:
            row = BridgePause(id=_ROW_ID, paused=paused, reason=reason)
            self._session.add(row)
        else:
            row.paused = paused
            row.reason = reason if paused else None
        self._session.flush()
        AuditLog(self._session).append(
            "bridge", "bridge", "paused" if paused else "resumed", detail={"reason": reason}
        )
        return self.state()
