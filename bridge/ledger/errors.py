"""Errors of the SQL ledger, each carrying the record and the value that was refused.

LedgerError
├── TransitionNotAllowed      a status change outside the record's state machine
├── StatusChangedConcurrently the row's status moved under us (another process won the race)
├── RecordNotFound            no row with that id
├── DuplicateRecord           a row with that id already exists
├── InvalidAmount             an amount that is not a non-negative int
├── InvalidEvmAddress         not 0x + 40 hex digits
├── InvalidCursor             a pagination cursor we did not issue (or for another ordering)
├── InvalidPageSize           a page limit outside 1..MAX_PAGE_SIZE
├── AuditLogIsAppendOnly      an attempt to update or delete an audit_log row
├── BlockDoesNotConnect       a Bitcoin block whose parent is not the stored tip
├── PauseReasonTooLong        a pause reason longer than the ledger keeps
└── MigrationError            Alembic could not move the schema to the requested revision
"""

from sluice.errors import SluiceError


class LedgerError(SluiceError):
    """Base of every ledger error."""


class TransitionNotAllowed(LedgerError):
    """The record's state machine has no edge `from_status -> to_status`; nothing was written."""

    def __init__(self, record_kind: str, record_id: str, from_status: str, to_status: str) -> None:
        self.record_kind = record_kind
        self.record_id = record_id
        self.from_status = from_status
        self.to_status = to_status
        super().__init__(
            f"{record_kind} {record_id}: transition {from_status} -> {to_status} is not allowed"
        )


class StatusChangedConcurrently(LedgerError):
    """The row no longer had `expected_status` when we updated it; nothing was written."""

    def __init__(self, record_kind: str, record_id: str, expected_status: str) -> None:
        self.record_kind = record_kind
        self.record_id = record_id
        self.expected_status = expected_status
        super().__init__(
            f"{record_kind} {record_id}: status is no longer {expected_status} "
            "(changed by another transaction)"
        )


class RecordNotFound(LedgerError):
    def __init__(self, record_kind: str, record_id: str) -> None:
        self.record_kind = record_kind
        self.record_id = record_id
        super().__init__(f"no {record_kind} with id {record_id}")


class DuplicateRecord(LedgerError):
    def __init__(self, record_kind: str, record_id: str) -> None:
        self.record_kind = record_kind
        self.record_id = record_id
        super().__init__(f"{record_kind} {record_id} already exists")


class InvalidAmount(LedgerError):
    """Amounts are ints in base units (sats, USDT units, wei): never floats, never negative."""

    def __init__(self, field: str, value: object) -> None:
        self.field = field
        self.value = value
        super().__init__(f"{field} must be a non-negative int in base units, got {value!r}")


class InvalidEvmAddress(LedgerError):
    def __init__(self, field: str, value: object) -> None:
        self.field = field
        self.value = value
        super().__init__(f"{field} must be an EVM address (0x + 40 hex digits), got {value!r}")


class InvalidCursor(LedgerError):
    def __init__(self, cursor: str) -> None:
        self.cursor = cursor
        super().__init__(f"pagination cursor {cursor!r} is not one this ledger issued")


class AuditLogIsAppendOnly(LedgerError):
    def __init__(self, entry_id: int | None, operation: str) -> None:
        self.entry_id = entry_id
        self.operation = operation
        super().__init__(f"audit_log is append-only: {operation} of entry {entry_id} refused")


class BlockDoesNotConnect(LedgerError):
    """The block is not the child of the stored tip: the caller must unwind (reorg) first."""

    def __init__(
        self, height: int, block_hash: str, prev_hash: str, tip_height: int, tip_hash: str
    ) -> None:
        self.height = height
        self.block_hash = block_hash
        self.prev_hash = prev_hash
        self.tip_height = tip_height
        self.tip_hash = tip_hash
        super().__init__(
            f"block {block_hash} at height {height} (parent {prev_hash}) does not extend "
            f"the stored tip {tip_hash} at height {tip_height}"
        )


class MigrationError(LedgerError):
    def __init__(self, revision: str, reason: str) -> None:
        self.revision = revision
        self.reason = reason
        super().__init__(f"cannot migrate the ledger to revision {revision!r}: {reason}")


class InvalidPageSize(LedgerError):
    def __init__(self, limit: int, maximum: int) -> None:
        self.limit = limit
        self.maximum = maximum
        super().__init__(f"page size must be between 1 and {maximum}, got {limit}")


class PauseReasonTooLong(LedgerError):
    def __init__(self, length: int, maximum: int) -> None:
        self.length = length
        self.maximum = maximum
        super().__init__(f"a pause reason holds at most {maximum} characters, got {length}")
