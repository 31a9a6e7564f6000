"""The statuses of ledger records and the transitions each state machine allows.

Every table with a `status` column has one `StateMachine` here. A status moves only along an
edge listed below (`bridge.ledger.transitions.apply_transition` enforces it); terminal statuses
have no outgoing edge.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar


class Asset(StrEnum):
    BTC = "BTC"
    USDT = "USDT"


class DepositStatus(StrEnum):
    SEEN = "seen"  # in a block, fewer confirmations than the depth
    CONFIRMED = "confirmed"  # at the confirmation depth
    ATTESTED = "attested"  # this member signed and submitted its attestation
    MINTED = "minted"  # the sidechain minted it (mint tx hash and block recorded)
    REJECTED = "rejected"  # recorded, never minted: see reject_reason; refundable
    REFUNDED = "refunded"  # a rejected deposit the depositor took back
    REORGED = "reorged"  # its block left the best chain; back to seen if it returns


class RejectReason(StrEnum):
    BELOW_MINIMUM = "below_minimum"
    UNKNOWN_PROPERTY = "unknown_property"
    INVALID_OMNI = "invalid_omni"
    BAD_SCRIPT = "bad_script"


class WithdrawalStatus(StrEnum):
    REQUESTED = "requested"  # the Bridge's withdrawal event was seen
    WINDOW_OPEN = "window_open"  # its challenge window is running
    CHALLENGED = "challenged"  # a challenge is pending
    READY = "ready"  # window closed unchallenged: may be released
    RELEASING = "releasing"  # in a release transaction being signed
    RELEASED = "released"  # the release transaction was broadcast
    CONFIRMED = "confirmed"  # the release is at the confirmation depth
    REFUNDED = "refunded"  # paid back on the sidechain (bad address, upheld challenge)


class ReleaseStatus(StrEnum):
    BUILDING = "building"  # unsigned transaction chosen, PSBT not yet passed round
    SIGNING = "signing"  # PSBT collecting federation signatures
    SIGNED = "signed"  # m signatures: finalised, not yet broadcast
    BROADCAST = "broadcast"  # sent to bitcoind; tracking confirmations
    CONFIRMED = "confirmed"  # at the confirmation depth
    REPLACED = "replaced"  # superseded by a replace-by-fee release (replaced_by)
    ABANDONED = "abandoned"  # never broadcast; its withdrawals went back to ready


class ClaimKind(StrEnum):
    DEPOSIT_ATTESTATION = "deposit_attestation"
    RELEASE = "release"
    STATE_COMMITMENT = "state_commitment"


class WindowClock(StrEnum):
    """Which chain's block height a fraud-proof window is counted in."""

    BITCOIN = "bitcoin"
    SIDECHAIN = "sidechain"


class ClaimStatus(StrEnum):
    OPEN = "open"  # window running, no challenge pending
    CHALLENGED = "challenged"  # at least one challenge pending
    UPHELD = "upheld"  # outcome: the window closed with no challenge standing
    VOIDED = "voided"  # outcome: judged false; its operators were slashed


class ChallengeStatus(StrEnum):
    SUBMITTED = "submitted"  # bond posted, votes being counted
    SUCCEEDED = "succeeded"  # two thirds of stake said the claim is false
    FAILED = "failed"  # frivolous: the bond went to the vault
    REFUSED = "refused"  # refused by the court (after the window, duplicate, ...)


class CommitmentStatus(StrEnum):
    PENDING = "pending"  # computed, OP_RETURN not yet broadcast
    BROADCAST = "broadcast"  # anchoring transaction sent
    CONFIRMED = "confirmed"  # anchoring transaction at the confirmation depth


_S = TypeVar("_S", bound=StrEnum)


@dataclass(frozen=True)
class StateMachine(Generic[_S]):
    """A record kind's statuses, where a new record starts, and the allowed edges."""

    record_kind: str
    status_type: type[_S]
    initial: frozenset[_S]
    edges: Mapping[_S, frozenset[_S]]

    def allows(self, from_status: _S, to_status: _S) -> bool:
        return to_status in self.edges.get(from_status, frozenset())

    def is_terminal(self, status: _S) -> bool:
        return not self.edges.get(status)


def _machine(
    kind: str, status_type: type[_S], initial: set[_S], edges: dict[_S, set[_S]]
) -> StateMachine[_S]:
    return StateMachine(
        kind, status_type, frozenset(initial), {k: frozenset(v) for k, v in edges.items()}
    )


D, W, R = DepositStatus, WithdrawalStatus, ReleaseStatus
C, X, S = ClaimStatus, ChallengeStatus, CommitmentStatus

DEPOSIT = _machine(
    "deposit",
    DepositStatus,
    {D.SEEN},
    {
        D.SEEN: {D.CONFIRMED, D.REJECTED, D.REORGED},
        D.CONFIRMED: {D.ATTESTED, D.REJECTED, D.REORGED},
        D.ATTESTED: {D.MINTED, D.REORGED},
        # A reorg deeper than the depth after the mint: recorded so the bridge pauses and says so.
        D.MINTED: {D.REORGED},
        D.REJECTED: {D.REFUNDED, D.REORGED},
        D.REORGED: {D.SEEN},
    },
)

WITHDRAWAL = _machine(
    "withdrawal",
    WithdrawalStatus,
    {W.REQUESTED},
    {
        W.REQUESTED: {W.WINDOW_OPEN, W.REFUNDED},
        W.WINDOW_OPEN: {W.READY, W.CHALLENGED},
        W.CHALLENGED: {W.READY, W.REFUNDED},
        W.READY: {W.RELEASING},
        W.RELEASING: {W.RELEASED, W.READY},
        W.RELEASED: {W.CONFIRMED},
    },
)

RELEASE = _machine(
    "release",
    ReleaseStatus,
    {R.BUILDING},
    {
        R.BUILDING: {R.SIGNING, R.ABANDONED},
        R.SIGNING: {R.SIGNED, R.ABANDONED},
        R.SIGNED: {R.BROADCAST, R.ABANDONED},
        R.BROADCAST: {R.CONFIRMED, R.REPLACED},
        # Abandoned here, yet sent by another coordinator with the others' signatures.
        R.ABANDONED: {R.SIGNED},
    },
)

CLAIM = _machine(
    "claim",
    ClaimStatus,
    {C.OPEN},
    {
        C.OPEN: {C.UPHELD, C.CHALLENGED},
        # Every pending challenge failed: open again until the window closes.
        C.CHALLENGED: {C.OPEN, C.VOIDED},
    },
)

CHALLENGE = _machine(
    "challenge",
    ChallengeStatus,
    {X.SUBMITTED},
    {X.SUBMITTED: {X.SUCCEEDED, X.FAILED, X.REFUSED}},
)

COMMITMENT = _machine(
    "state_commitment",
    CommitmentStatus,
    {S.PENDING},
    {
        S.PENDING: {S.BROADCAST},
        S.BROADCAST: {S.CONFIRMED, S.PENDING},  # dropped from the mempool: rebuild
        S.CONFIRMED: {S.BROADCAST},  # its block was reorged out: back to tracking
    },
)

del D, W, R, C, X, S
