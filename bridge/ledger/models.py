"""The ledger's tables as SQLAlchemy 2.0 typed models (one class per table, named after its rows).

Amounts are ints in base units: `BigInteger` for Bitcoin-side amounts (sats, Omni units; both
fit in 63 bits), `Wei` (NUMERIC(78, 0)) for sidechain amounts. EVM addresses are stored
lower-case; txids and hashes as lower-case hex without `0x` for Bitcoin, with `0x` for the
sidechain. Statuses are plain strings checked by `bridge.ledger.states`; change them only
through the repositories (which apply the state machines and write the audit log).
"""

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bridge.ledger import states
from bridge.ledger.states import (
    Asset,
    ChallengeStatus,
    ClaimKind,
    ClaimStatus,
    CommitmentStatus,
    DepositStatus,
    RejectReason,
    ReleaseStatus,
    StateMachine,
    WindowClock,
    WithdrawalStatus,
)
from bridge.ledger.types import BigIntKey, UTCDateTime, Wei, utcnow

TXID = 64
EVM_ADDRESS = 42
EVM_HASH = 66
BTC_ADDRESS = 90
DEPOSIT_ID = TXID + 1 + 10
SUBJECT = 80
STATUS = 24
PAUSE_REASON = 200

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}


def _enum(enum_type: type[StrEnum]) -> Enum:
    """A VARCHAR holding the enum's values (no database enum type, so adding a value is easy)."""
    return Enum(
        enum_type,
        native_enum=False,
        create_constraint=False,
        length=STATUS,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), int: BigInteger()}


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Tracked(Base, Timestamps):
    """A record with a status that moves through `state_machine`."""

    __abstract__ = True
    state_machine: ClassVar[StateMachine[Any]]
    if TYPE_CHECKING:
        status: Mapped[Any]  # each subclass maps it with its own status enum

    @property
    def record_id(self) -> str:
        raise NotImplementedError


class DepositAddress(Base, Timestamps):
    __tablename__ = "deposit_addresses"

    address: Mapped[str] = mapped_column(String(BTC_ADDRESS), primary_key=True)
    witness_script: Mapped[str] = mapped_column(Text)  # hex
    recipient: Mapped[str] = mapped_column(String(EVM_ADDRESS), index=True)
    refund_pubkey: Mapped[str | None] = mapped_column(String(66))  # compressed, hex
    refund_timeout: Mapped[int | None] = mapped_column(Integer)  # CSV blocks


class Deposit(Tracked):
    __tablename__ = "deposits"
    __table_args__ = (
        UniqueConstraint("txid", "vout"),
        Index(None, "created_at", "id"),
    )
    state_machine = states.DEPOSIT

    id: Mapped[str] = mapped_column(String(DEPOSIT_ID), primary_key=True)  # txid:vout
    txid: Mapped[str] = mapped_column(String(TXID))
    vout: Mapped[int] = mapped_column(Integer)
    asset: Mapped[Asset] = mapped_column(_enum(Asset))
    # The Omni property paid (USDT deposits); for reject_reason unknown_property it is the
    # property actually received, recorded with asset USDT (the Omni side of the bridge).
    omni_property_id: Mapped[int | None]
    amount: Mapped[int]  # sats for BTC, Omni base units (8 decimals) for USDT
    deposit_address: Mapped[str] = mapped_column(
        ForeignKey("deposit_addresses.address"), index=True
    )
    recipient: Mapped[str] = mapped_column(String(EVM_ADDRESS), index=True)
    block_height: Mapped[int]
    block_hash: Mapped[str] = mapped_column(String(TXID))
    confirmations: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[DepositStatus] = mapped_column(_enum(DepositStatus), index=True)
    reject_reason: Mapped[RejectReason | None] = mapped_column(_enum(RejectReason))
    mint_tx_hash: Mapped[str | None] = mapped_column(String(EVM_HASH))
    mint_block: Mapped[int | None]

    @property
    def record_id(self) -> str:
        return self.id


class Release(Tracked):
    """A Bitcoin transaction paying out withdrawals from the vault (txid is witness-free)."""

    __tablename__ = "releases"
    state_machine = states.RELEASE

    txid: Mapped[str] = mapped_column(String(TXID), primary_key=True)
    psbt: Mapped[str | None] = mapped_column(Text)  # base64
    raw_tx: Mapped[str | None] = mapped_column(Text)  # hex, once finalised
    fee: Mapped[int]  # sats
    fee_rate: Mapped[int]  # sat per 1000 vbytes
    status: Mapped[ReleaseStatus] = mapped_column(_enum(ReleaseStatus), index=True)
    confirmations: Mapped[int] = mapped_column(Integer, default=0)
    block_height: Mapped[int | None]
    block_hash: Mapped[str | None] = mapped_column(String(TXID))
    broadcast_height: Mapped[int | None]  # Bitcoin tip when sent, for RBF after N blocks
    replaced_by: Mapped[str | None] = mapped_column(ForeignKey("releases.txid"))
    # When the Bridge was told of this (confirmed) release, so users see it on the sidechain.
    sidechain_told_at: Mapped[datetime | None]

    @property
    def record_id(self) -> str:
        return self.txid


class Withdrawal(Tracked):
    __tablename__ = "withdrawals"
    __table_args__ = (Index(None, "created_at", "id"),)
    state_machine = states.WITHDRAWAL

    id: Mapped[str] = mapped_column(String(EVM_HASH), primary_key=True)  # the Bridge's id
    sender: Mapped[str] = mapped_column(String(EVM_ADDRESS), index=True)
    asset: Mapped[Asset] = mapped_column(_enum(Asset))
    amount: Mapped[int]  # Bitcoin base units to pay out (sats / Omni units)
    burned_amount: Mapped[int] = mapped_column(Wei())  # sidechain units burned
    bitcoin_address: Mapped[str] = mapped_column(String(BTC_ADDRESS), index=True)
    sidechain_tx_hash: Mapped[str] = mapped_column(String(EVM_HASH))
    sidechain_block: Mapped[int]
    log_index: Mapped[int] = mapped_column(Integer)
    status: Mapped[WithdrawalStatus] = mapped_column(_enum(WithdrawalStatus), index=True)
    window_opened_at_height: Mapped[int | None]  # Bitcoin heights
    window_closes_at_height: Mapped[int | None]
    release_txid: Mapped[str | None] = mapped_column(ForeignKey("releases.txid"), index=True)
    refund_tx_hash: Mapped[str | None] = mapped_column(String(EVM_HASH))

    @property
    def record_id(self) -> str:
        return self.id


class ReleaseOutput(Base):
    """Which output of which release pays which withdrawal (RBF keeps one row per release)."""

    __tablename__ = "release_outputs"

    release_txid: Mapped[str] = mapped_column(ForeignKey("releases.txid"), primary_key=True)
    withdrawal_id: Mapped[str] = mapped_column(
        ForeignKey("withdrawals.id"), primary_key=True, index=True
    )
    vout: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int]


class Claim(Tracked):
    """An operator's claim and its fraud-proof window; a terminal status is its outcome."""

    __tablename__ = "claims"
    __table_args__ = (
        UniqueConstraint("kind", "subject", "operator"),
        Index(None, "created_at", "id"),
    )
    state_machine = states.CLAIM

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    kind: Mapped[ClaimKind] = mapped_column(_enum(ClaimKind))
    subject: Mapped[str] = mapped_column(String(SUBJECT))  # deposit id / release txid / height
    operator: Mapped[str] = mapped_column(String(EVM_ADDRESS), index=True)
    clock: Mapped[WindowClock] = mapped_column(_enum(WindowClock))
    opened_at_height: Mapped[int]
    closes_at_height: Mapped[int]
    status: Mapped[ClaimStatus] = mapped_column(_enum(ClaimStatus), index=True)
    court_claim_id: Mapped[str | None] = mapped_column(String(EVM_HASH))

    @property
    def record_id(self) -> str:
        return str(self.id)


class Challenge(Tracked):
    __tablename__ = "challenges"
    __table_args__ = (Index(None, "created_at", "id"),)
    state_machine = states.CHALLENGE

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    challenger: Mapped[str] = mapped_column(String(EVM_ADDRESS), index=True)
    bond: Mapped[int] = mapped_column(Wei())
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[ChallengeStatus] = mapped_column(_enum(ChallengeStatus), index=True)
    reward: Mapped[int | None] = mapped_column(Wei())
    court_challenge_id: Mapped[str | None] = mapped_column(String(EVM_HASH))
    tx_hash: Mapped[str | None] = mapped_column(String(EVM_HASH))

    @property
    def record_id(self) -> str:
        return str(self.id)


class StateCommitment(Tracked):
    """A sidechain state root anchored on Bitcoin with an `SLC1` OP_RETURN."""

    __tablename__ = "state_commitments"
    state_machine = states.COMMITMENT

    sidechain_height: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    state_root: Mapped[str] = mapped_column(String(EVM_HASH))
    status: Mapped[CommitmentStatus] = mapped_column(_enum(CommitmentStatus), index=True)
    bitcoin_txid: Mapped[str | None] = mapped_column(String(TXID), index=True)
    bitcoin_block_height: Mapped[int | None]
    confirmations: Mapped[int] = mapped_column(Integer, default=0)

    @property
    def record_id(self) -> str:
        return str(self.sidechain_height)


class BitcoinBlock(Base):
    """A block of the best chain as this ledger last saw it, for reorg detection."""

    __tablename__ = "bitcoin_blocks"

    height: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(TXID), unique=True)
    prev_hash: Mapped[str] = mapped_column(String(TXID))
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class FederationSignature(Base):
    """A member's signature over a subject (an attestation, one input of a release, ...)."""

    __tablename__ = "federation_signatures"
    __table_args__ = (UniqueConstraint("subject_kind", "subject_id", "part", "signer"),)

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    subject_kind: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(SUBJECT))
    part: Mapped[int] = mapped_column(Integer, default=0)  # e.g. the input index of a release
    signer: Mapped[str] = mapped_column(String(130))  # EVM address or public key hex
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SidechainMint(Base):
    """A Deposited event of the Bridge, kept whether or not this ledger holds the deposit yet:
    a member that sees a deposit at the depth after its mint finds the mint here."""

    __tablename__ = "sidechain_mints"

    deposit_id: Mapped[str] = mapped_column(String(DEPOSIT_ID), primary_key=True)  # txid:vout
    asset: Mapped[Asset] = mapped_column(_enum(Asset))
    amount: Mapped[int]
    recipient: Mapped[str] = mapped_column(String(EVM_ADDRESS))
    tx_hash: Mapped[str] = mapped_column(String(EVM_HASH))
    block_number: Mapped[int]


class BridgePause(Base):
    """The bridge's pause flag: one row (id 1) once it was first set; no row means running."""

    __tablename__ = "bridge_pause"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    paused: Mapped[bool]
    reason: Mapped[str | None] = mapped_column(String(PAUSE_REASON))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Cursor(Base):
    """A named processing checkpoint (a loop's last handled height, and its block hash)."""

    __tablename__ = "cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int]
    tag: Mapped[str | None] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AuditEntry(Base):
    """One append-only line of history: a record created, a status moved, a reorg unwound."""

    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "record_kind", "record_id"),)

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    record_kind: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[str] = mapped_column(String(SUBJECT))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(STATUS))
    to_status: Mapped[str | None] = mapped_column(String(STATUS))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
