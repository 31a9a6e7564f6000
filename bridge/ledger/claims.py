"""Repositories of operator claims and their fraud-proof windows, challenges, commitments."""

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, select

from bridge.ledger.base import TrackedRepository
from bridge.ledger.errors import DuplicateRecord, TransitionNotAllowed
from bridge.ledger.models import Challenge, Claim, StateCommitment
from bridge.ledger.pagination import Page
from bridge.ledger.states import (
    CLAIM,
    ChallengeStatus,
    ClaimKind,
    ClaimStatus,
    CommitmentStatus,
    WindowClock,
)
from bridge.ledger.transitions import add_record
from bridge.ledger.types import check_amount, normalize_evm_address
from bridge.ledger.withdrawals import MAX_WEI


class ClaimRepository(TrackedRepository[Claim]):
    """Claims by numeric id; one per (kind, subject, operator). A terminal status is the outcome."""

    model = Claim

    def open(
        self,
        *,
        kind: ClaimKind,
        subject: str,
        operator: str,
        clock: WindowClock,
        opened_at_height: int,
        closes_at_height: int,
        court_claim_id: str | None = None,
    ) -> Claim:
        """Record a claim with its window [opened_at_height, closes_at_height] on `clock`."""
        operator = normalize_evm_address("operator", operator)
        if self.find(ClaimKind(kind), subject, operator) is not None:
            raise DuplicateRecord("claim", f"{kind}:{subject}:{operator}")
        claim = Claim(
            kind=ClaimKind(kind),
            subject=subject,
            operator=operator,
            clock=WindowClock(clock),
            opened_at_height=opened_at_height,
            closes_at_height=closes_at_height,
            status=ClaimStatus.OPEN,
            court_claim_id=None if court_claim_id is None else court_claim_id.lower(),
        )
        add_record(self._session, claim, detail={"kind": str(kind), "subject": subject})
        return claim

    def find(self, kind: ClaimKind, subject: str, operator: str) -> Claim | None:
        query = select(Claim).where(
            Claim.kind == kind,
            Claim.subject == subject,
            Claim.operator == normalize_evm_address("operator", operator),
        )
        return self._session.scalars(query).one_or_none()

    def for_subject(self, kind: ClaimKind, subject: str) -> Sequence[Claim]:
        query = select(Claim).where(Claim.kind == kind, Claim.subject == subject)
        return self._session.scalars(query.order_by(Claim.id)).all()

    def for_court_claim(self, court_claim_id: str) -> Sequence[Claim]:
        """The rows of one ChallengeCourt claim: one per operator that made it."""
        query = select(Claim).where(Claim.court_claim_id == court_claim_id.lower())
        return self._session.scalars(query.order_by(Claim.id)).all()

    def windows_closed_by(self, clock: WindowClock, height: int) -> Sequence[Claim]:
        """Unchallenged claims whose window on `clock` closes at or before `height`."""
        query = select(Claim).where(
            Claim.status == ClaimStatus.OPEN,
            Claim.clock == clock,
            Claim.closes_at_height <= height,
        )
        return self._session.scalars(query.order_by(Claim.id)).all()

    def page(
        self,
        *,
        kind: ClaimKind | None = None,
        status: ClaimStatus | None = None,
        operator: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
        newest_first: bool = True,
    ) -> Page[Claim]:
        filters: list[ColumnElement[bool]] = []
        if kind is not None:
            filters.append(Claim.kind == ClaimKind(kind))
        if status is not None:
            filters.append(Claim.status == ClaimStatus(status))
        if operator is not None:
            filters.append(Claim.operator == normalize_evm_address("operator", operator))
        return self._page(filters, cursor, limit, newest_first)


class ChallengeRepository(TrackedRepository[Challenge]):
    """Challenges by numeric id; submitting and resolving one also moves its claim."""

    model = Challenge

    def submit(
        self,
        *,
        claim_id: int,
        challenger: str,
        bond: int,
        evidence: Mapping[str, Any],
        court_challenge_id: str | None = None,
        tx_hash: str | None = None,
    ) -> Challenge:
        """A bonded challenge (bond in wei): an open claim becomes `challenged`.

        A claim whose outcome is already decided refuses it (`TransitionNotAllowed`), with
        nothing written.
        """
        claims = ClaimRepository(self._session)
        claim = claims.require(claim_id)
        if claim.status != ClaimStatus.CHALLENGED and not CLAIM.allows(
            claim.status, ClaimStatus.CHALLENGED
        ):
            raise TransitionNotAllowed("claim", claim.record_id, claim.status, "challenged")
        challenge = Challenge(
            claim_id=claim.id,
            challenger=normalize_evm_address("challenger", challenger),
            bond=check_amount("bond", bond, maximum=MAX_WEI),
            evidence=dict(evidence),
            status=ChallengeStatus.SUBMITTED,
            court_challenge_id=None if court_challenge_id is None else court_challenge_id.lower(),
            tx_hash=tx_hash,
        )
        add_record(self._session, challenge, detail={"claim_id": claim.id, "bond": bond})
        if claim.status == ClaimStatus.OPEN:
            claims.move(claim.id, ClaimStatus.CHALLENGED, detail={"challenge_id": challenge.id})
        return challenge

    def resolve(
        self, challenge_id: int, outcome: ChallengeStatus, *, reward: int | None = None
    ) -> Challenge:
        """Record the court's verdict. `succeeded` voids the claim; when the last pending
        challenge fails or is refused, the claim is open again until its window closes."""
        changes = (
            None if reward is None else {"reward": check_amount("reward", reward, maximum=MAX_WEI)}
        )
        challenge = self.move(challenge_id, outcome, changes=changes)
        claims = ClaimRepository(self._session)
        claim = claims.require(challenge.claim_id)
        if claim.status != ClaimStatus.CHALLENGED:
            return challenge
        if challenge.status == ChallengeStatus.SUCCEEDED:
            claims.move(claim.id, ClaimStatus.VOIDED, detail={"challenge_id": challenge.id})
        elif not self.pending_for(claim.id):
            claims.move(claim.id, ClaimStatus.OPEN, detail={"challenge_id": challenge.id})
        return challenge

    def for_court_claim(self, court_claim_id: str) -> Sequence[Challenge]:
        """The rows of the court's one challenge of a claim (one per operator's claim row)."""
        query = select(Challenge).where(Challenge.court_challenge_id == court_claim_id.lower())
        return self._session.scalars(query.order_by(Challenge.id)).all()

    def pending_for(self, claim_id: int) -> Sequence[Challenge]:
        query = select(Challenge).where(
            Challenge.claim_id == claim_id, Challenge.status == ChallengeStatus.SUBMITTED
        )
        return self._session.scalars(query.order_by(Challenge.id)).all()

    def page(
        self,
        *,
        claim_id: int | None = None,
        challenger: str | None = None,
        status: ChallengeStatus | None = None,
        cursor: str | None = None,
        limit: int = 50,
        newest_first: bool = True,
    ) -> Page[Challenge]:
        filters: list[ColumnElement[bool]] = []
        if claim_id is not None:
            filters.append(Challenge.claim_id == claim_id)
        if challenger is not None:
            filters.append(Challenge.challenger == normalize_evm_address("challenger", challenger))
        if status is not None:
            filters.append(Challenge.status == ChallengeStatus(status))
        return self._page(filters, cursor, limit, newest_first)


class StateCommitmentRepository(TrackedRepository[StateCommitment]):
    """State roots anchored on Bitcoin, by sidechain height."""

    model = StateCommitment

    def record(self, sidechain_height: int, state_root: str) -> StateCommitment:
        commitment = StateCommitment(
            sidechain_height=sidechain_height,
            state_root=state_root.lower(),
            status=CommitmentStatus.PENDING,
        )
        add_record(self._session, commitment, detail={"state_root": commitment.state_root})
        return commitment

    def mark_broadcast(self, sidechain_height: int, bitcoin_txid: str) -> StateCommitment:
        return self.move(
            sidechain_height,
            CommitmentStatus.BROADCAST,
            changes={"bitcoin_txid": bitcoin_txid.lower()},
        )

    def mark_confirmed(
        self, sidechain_height: int, *, bitcoin_block_height: int, confirmations: int
    ) -> StateCommitment:
        return self.move(
            sidechain_height,
            CommitmentStatus.CONFIRMED,
            changes={"bitcoin_block_height": bitcoin_block_height, "confirmations": confirmations},
        )

    def latest(self, status: CommitmentStatus | None = None) -> StateCommitment | None:
        """The highest commitment (in `status`, if given)."""
        query = select(StateCommitment).order_by(StateCommitment.sidechain_height.desc())
        if status is not None:
            query = query.where(StateCommitment.status == CommitmentStatus(status))
        return self._session.scalars(query.limit(1)).first()

    def page(
        self,
        *,
        status: CommitmentStatus | None = None,
        cursor: str | None = None,
        limit: int = 50,
        newest_first: bool = True,
    ) -> Page[StateCommitment]:
        filters: list[ColumnElement[bool]] = []
        if status is not None:
            filters.append(StateCommitment.status == CommitmentStatus(status))
        return self._page(filters, cursor, limit, newest_first)
