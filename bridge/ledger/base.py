"""What every repository of status-carrying records shares: lookups and audited transitions."""

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, ClassVar, Generic, TypeVar, cast

from sqlalchemy import ColumnElement, func, inspect, select
from sqlalchemy.orm import Session

from bridge.ledger.errors import RecordNotFound
from bridge.ledger.models import Tracked
from bridge.ledger.pagination import Page, paginate
from bridge.ledger.transitions import apply_transition

M = TypeVar("M", bound=Tracked)


class TrackedRepository(Generic[M]):
    """Reads and moves records of one model; the caller's session owns the transaction."""

    model: ClassVar[type[Tracked]]

    def __init__(self, session: Session) -> None:
        self._session = session

    @property
    def _model(self) -> type[M]:
        return cast(type[M], self.model)

    def get(self, record_id: Any) -> M | None:
        return self._session.get(self._model, record_id)

    def require(self, record_id: Any) -> M:
        record = self.get(record_id)
        if record is None:
            raise RecordNotFound(self.model.state_machine.record_kind, str(record_id))
        return record

    def move(
        self,
        record_id: Any,
        to_status: StrEnum | str,
        *,
        changes: Mapping[str, Any] | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> M:
        """Apply one transition (see `apply_transition`) and return the updated record."""
        record = self.require(record_id)
        apply_transition(self._session, record, to_status, changes=changes, detail=detail)
        return record

    def with_status(self, *statuses: StrEnum, limit: int | None = None) -> Sequence[M]:
        """Records in any of `statuses`, oldest first: the work queue of a processing loop."""
        model = self._model
        (key,) = inspect(model).primary_key
        query = (
            select(model)
            .where(model.status.in_(statuses))
            .order_by(model.created_at, key)
            .limit(limit)
        )
        return self._session.scalars(query).all()

    def count_by_status(self) -> dict[str, int]:
        status = self._model.status
        rows = self._session.execute(select(status, func.count()).group_by(status)).all()
        return {str(row[0]): int(row[1]) for row in rows}

    def _page(
        self,
        filters: Sequence[ColumnElement[bool]],
        cursor: str | None,
        limit: int,
        newest_first: bool,
    ) -> Page[M]:
        query = select(self._model).where(*filters)
        return paginate(
            self._session, query, self._model, cursor=cursor, limit=limit, newest_first=newest_first
        )
