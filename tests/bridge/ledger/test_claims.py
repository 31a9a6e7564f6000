"""Operator claims, their fraud-proof windows and challenges, and state commitments."""

import pytest
from sqlalchemy import func, select

from bridge.ledger import (
    AuditEntry,
    Challenge,
    ChallengeStatus,
    ClaimKind,
    ClaimStatus,
    CommitmentStatus,
    DuplicateRecord,
    Ledger,
    TransitionNotAllowed,
    WindowClock,
)
from bridge.ledger.testing import CHALLENGER, OPERATOR, claim


def _challenge(ledger: Ledger, claim_id: int, bond: int = 10**18) -> Challenge:
    return ledger.challenges.submit(
        claim_id=claim_id,
        challenger=CHALLENGER,
        bond=bond,
        evidence={"reason": "deposit not on Bitcoin", "txid": "ab" * 32},
    )


def test_a_claim_records_its_window_and_is_unique_per_operator(ledger: Ledger) -> None:
    opened = ledger.claims.open(
        kind=ClaimKind.STATE_COMMITMENT,
        subject="1000",
        operator=OPERATOR.upper().replace("0X", "0x"),
        clock=WindowClock.SIDECHAIN,
        opened_at_height=1000,
        closes_at_height=1100,
    )
    ledger.session.commit()
    assert (opened.operator, opened.status, opened.clock) == (
        OPERATOR,
        ClaimStatus.OPEN,
        WindowClock.SIDECHAIN,
    )
    assert ledger.claims.find(ClaimKind.STATE_COMMITMENT, "1000", OPERATOR) is opened
    with pytest.raises(DuplicateRecord):
        ledger.claims.open(
            kind=ClaimKind.STATE_COMMITMENT,
            subject="1000",
            operator=OPERATOR,
            clock=WindowClock.SIDECHAIN,
            opened_at_height=1000,
            closes_at_height=1100,
        )


def test_claims_whose_window_closed_unchallenged_are_found_and_upheld(ledger: Ledger) -> None:
    closing, later, challenged = (
        claim(ledger, closes_at=20),
        claim(ledger, closes_at=30),
        claim(ledger, closes_at=20),
    )
    _challenge(ledger, challenged.id)
    ledger.session.commit()
    due = ledger.claims.windows_closed_by(WindowClock.BITCOIN, 25)
    assert [c.id for c in due] == [closing.id]
    assert ledger.claims.windows_closed_by(WindowClock.SIDECHAIN, 25) == []
    ledger.claims.move(closing.id, ClaimStatus.UPHELD)
    ledger.session.commit()
    assert ledger.claims.require(closing.id).status == ClaimStatus.UPHELD
    assert ledger.claims.require(later.id).status == ClaimStatus.OPEN


def test_a_successful_challenge_voids_the_claim(ledger: Ledger) -> None:
    disputed = claim(ledger)
    challenge = _challenge(ledger, disputed.id)
    assert ledger.claims.require(disputed.id).status == ClaimStatus.CHALLENGED
    reward = 3 * 10**24 + 7
    ledger.challenges.resolve(challenge.id, ChallengeStatus.SUCCEEDED, reward=reward)
    ledger.session.commit()
    won = ledger.challenges.require(challenge.id)
    assert (won.status, won.reward, won.evidence["txid"]) == (
        ChallengeStatus.SUCCEEDED,
        reward,
        "ab" * 32,
    )
    assert ledger.claims.require(disputed.id).status == ClaimStatus.VOIDED
    history = [e.to_status for e in ledger.audit.for_record("claim", str(disputed.id))]
    assert history == ["open", "challenged", "voided"]


def test_a_claim_is_open_again_only_when_every_challenge_failed(ledger: Ledger) -> None:
    disputed = claim(ledger)
    first, second = _challenge(ledger, disputed.id), _challenge(ledger, disputed.id)
    ledger.challenges.resolve(first.id, ChallengeStatus.FAILED)
    assert ledger.claims.require(disputed.id).status == ClaimStatus.CHALLENGED
    assert [c.id for c in ledger.challenges.pending_for(disputed.id)] == [second.id]
    ledger.challenges.resolve(second.id, ChallengeStatus.REFUSED)
    ledger.session.commit()
    assert ledger.claims.require(disputed.id).status == ClaimStatus.OPEN
    assert [c.id for c in ledger.challenges.page(claim_id=disputed.id).items] == [
        second.id,
        first.id,
    ]
    assert [c.id for c in ledger.challenges.page(status=ChallengeStatus.FAILED).items] == [first.id]


def test_a_challenge_of_a_decided_claim_is_refused_and_writes_nothing(ledger: Ledger) -> None:
    decided = claim(ledger)
    ledger.claims.move(decided.id, ClaimStatus.UPHELD)
    ledger.session.commit()
    audit_before = ledger.session.scalar(select(func.count()).select_from(AuditEntry))
    with pytest.raises(TransitionNotAllowed, match="upheld -> challenged"):
        _challenge(ledger, decided.id)
    ledger.session.commit()
    assert ledger.session.scalar(select(func.count()).select_from(Challenge)) == 0
    assert ledger.session.scalar(select(func.count()).select_from(AuditEntry)) == audit_before


def test_claims_are_listed_by_kind_status_and_operator(ledger: Ledger) -> None:
    attestation = claim(ledger)
    release = claim(ledger, kind=ClaimKind.RELEASE)
    ledger.session.commit()
    assert [c.id for c in ledger.claims.page(kind=ClaimKind.RELEASE).items] == [release.id]
    assert [c.id for c in ledger.claims.page(operator=OPERATOR).items] == [
        release.id,
        attestation.id,
    ]
    assert ledger.claims.page(status=ClaimStatus.VOIDED).items == []
    assert ledger.claims.for_subject(ClaimKind.RELEASE, release.subject) == [release]


def test_a_state_commitment_is_anchored_then_confirmed(ledger: Ledger) -> None:
    ledger.commitments.record(100, "0x" + "AA" * 32)
    ledger.commitments.record(200, "0x" + "bb" * 32)
    ledger.commitments.mark_broadcast(100, "CD" * 32)
    ledger.commitments.mark_confirmed(100, bitcoin_block_height=150, confirmations=6)
    ledger.session.commit()
    anchored = ledger.commitments.require(100)
    assert (anchored.status, anchored.state_root, anchored.bitcoin_txid) == (
        CommitmentStatus.CONFIRMED,
        "0x" + "aa" * 32,
        "cd" * 32,
    )
    assert ledger.commitments.latest().sidechain_height == 200  # type: ignore[union-attr]
    latest_confirmed = ledger.commitments.latest(CommitmentStatus.CONFIRMED)
    assert latest_confirmed is anchored
    assert [c.sidechain_height for c in ledger.commitments.page(limit=1).items] == [200]
    with pytest.raises(DuplicateRecord, match="100"):
        ledger.commitments.record(100, "0x" + "ee" * 32)
