"""The SQL ledger: typed models, repositories and the state machines of bridge records.

Usage (the caller owns the transaction; repositories only flush):

    engine = create_ledger_engine("sqlite:///ledger.sqlite3")   # or postgresql+psycopg://...
    upgrade_ledger(engine)                                      # Alembic, to head
    sessions = ledger_sessions(engine)
    with sessions.begin() as session:
        ledger = Ledger(session)
        ledger.deposit_addresses.add(address, script_hex, recipient)
        ledger.deposits.record_seen(txid=..., vout=..., asset=Asset.BTC, amount=sats, ...)
        ledger.deposits.record_many([SeenPayment(...), ...])        # a block's worth at once
        ledger.deposits.move(deposit_id, DepositStatus.CONFIRMED)

Every status change goes through `apply_transition` (via `Repository.move` or a named
method): an edge missing from `bridge.ledger.states` raises `TransitionNotAllowed` before
anything is written; an allowed one appends an `audit_log` row in the same transaction.
"""

from bridge.ledger.audit import AuditLog
from bridge.ledger.chain import BitcoinBlockRepository, CursorRepository
from bridge.ledger.claims import ChallengeRepository, ClaimRepository, StateCommitmentRepository
from bridge.ledger.deposits import (
    DepositAddressRepository,
    DepositRepository,
    SeenPayment,
    deposit_id,
)
from bridge.ledger.engine import create_ledger_engine, ledger_sessions
from bridge.ledger.errors import (
    AuditLogIsAppendOnly,
    BlockDoesNotConnect,
    DuplicateRecord,
    InvalidAmount,
    InvalidCursor,
    InvalidEvmAddress,
    InvalidPageSize,
    LedgerError,
    MigrationError,
    PauseReasonTooLong,
    RecordNotFound,
    StatusChangedConcurrently,
    TransitionNotAllowed,
)
from bridge.ledger.ledger import Ledger
from bridge.ledger.migrate import downgrade_ledger, upgrade_ledger
from bridge.ledger.mints import SidechainMintRepository
from bridge.ledger.models import (
    AuditEntry,
    Base,
    BitcoinBlock,
    BridgePause,
    Challenge,
    Claim,
    Cursor,
    Deposit,
    DepositAddress,
    FederationSignature,
    Release,
    ReleaseOutput,
    SidechainMint,
    StateCommitment,
    Withdrawal,
)
from bridge.ledger.pagination import MAX_PAGE_SIZE, Page
from bridge.ledger.pause import MAX_REASON_CHARS, PauseRepository, PauseState
from bridge.ledger.signatures import FederationSignatureRepository
from bridge.ledger.states import (
    Asset,
    ChallengeStatus,
    ClaimKind,
    ClaimStatus,
    CommitmentStatus,
    DepositStatus,
    RejectReason,
    ReleaseStatus,
    WindowClock,
    WithdrawalStatus,
)
from bridge.ledger.transitions import apply_transition
from bridge.ledger.withdrawals import ReleasePayment, ReleaseRepository, WithdrawalRepository

__all__ = [
    "MAX_PAGE_SIZE",
    "MAX_REASON_CHARS",
    "Asset",
    "AuditEntry",
    "AuditLog",
    "AuditLogIsAppendOnly",
    "Base",
    "BitcoinBlock",
    "BitcoinBlockRepository",
    "BlockDoesNotConnect",
    "BridgePause",
    "Challenge",
    "ChallengeRepository",
    "ChallengeStatus",
    "Claim",
    "ClaimKind",
    "ClaimRepository",
    "ClaimStatus",
    "CommitmentStatus",
    "Cursor",
    "CursorRepository",
    "Deposit",
    "DepositAddress",
    "DepositAddressRepository",
    "DepositRepository",
    "DepositStatus",
    "DuplicateRecord",
    "FederationSignature",
    "FederationSignatureRepository",
    "InvalidAmount",
    "InvalidCursor",
    "InvalidEvmAddress",
    "InvalidPageSize",
    "Ledger",
    "LedgerError",
    "MigrationError",
    "Page",
    "PauseReasonTooLong",
    "PauseRepository",
    "PauseState",
    "RecordNotFound",
    "RejectReason",
    "Release",
    "ReleaseOutput",
    "ReleasePayment",
    "ReleaseRepository",
    "ReleaseStatus",
    "SeenPayment",
    "SidechainMint",
    "SidechainMintRepository",
    "StateCommitment",
    "StateCommitmentRepository",
    "StatusChangedConcurrently",
    "TransitionNotAllowed",
    "WindowClock",
    "Withdrawal",
    "WithdrawalRepository",
    "WithdrawalStatus",
    "apply_transition",
    "create_ledger_engine",
    "deposit_id",
    "downgrade_ledger",
    "ledger_sessions",
    "upgrade_ledger",
]
