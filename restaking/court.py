"""The ChallengeCourt in Python: claim kinds and statuses, claim ids, the decoded claim record,
the calls a challenger or a voting operator sends, and the court's decoded events.

Everything here is pure (no I/O): a watcher reads `claim_of` with `claim_of_calldata` and
`Claim.decode`, sends `challenge_calldata`/`vote_calldata`/`resolve_calldata` to COURT_ADDRESS,
and turns the court's logs into `CourtEvent`s with `decode_court_log`.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from eth_abi import encode
from eth_utils import keccak, to_checksum_address

from sidechain.contracts import load_artifact


class ClaimKind(IntEnum):
    """What the federation claimed (ChallengeCourt.vy KIND_*)."""

    DEPOSIT_ATTESTATION = 1
    RELEASE_SIGNATURE = 2
    STATE_COMMITMENT = 3


class ClaimStatus(IntEnum):
    """Where a claim stands (ChallengeCourt.vy STATUS_*; 0 means never recorded)."""

    OPEN = 1
    CHALLENGED = 2
    VOID = 3  # a challenge was upheld: the claim was false and its operators were slashed
    STANDS = 4  # a challenge was rejected: the bond went to the operators' delegators


def claim_id(kind: ClaimKind, subject: bytes) -> bytes:
    """The court's key of a claim: keccak256(abi_encode(uint8 kind, bytes32 subject))."""
    return keccak(encode(["uint8", "bytes32"], [int(kind), subject]))


@dataclass(frozen=True)
class Claim:
    """A recorded claim (ChallengeCourt.claim_of). `amount` is what the claim moved in base
    units of `asset` (a deposit's or a release's amount; zero for a commitment); `signers` is
    the bitmap of its operators' indexes in the Bridge's federation list; windows in blocks."""

    kind: ClaimKind
    status: ClaimStatus
    asset: int
    amount: int
    signers: int
    opened_at: int
    closes_at: int

    @classmethod
    def decode(cls, output: bytes) -> "Claim | None":
        """The claim in a `claim_of` return value, or None when nothing is recorded there."""
        ((kind, status, asset, amount, signers, opened_at, closes_at),) = _COURT.decode_output(
            "claim_of", output
        )
        if status == 0:
            return None
        kind, status = ClaimKind(kind), ClaimStatus(status)
        return cls(kind, status, asset, amount, signers, opened_at, closes_at)

    def operators(self, federation: Sequence[str]) -> tuple[str, ...]:
        """The members (of the Bridge's federation list, in its order) who made the claim."""
        return tuple(m for i, m in enumerate(federation) if self.signers >> i & 1)

    def open_at(self, block: int) -> bool:
        """Whether a challenge posted in `block` would still be in the window."""
        return self.status == ClaimStatus.OPEN and block < self.closes_at


def claim_of_calldata(claim: bytes) -> bytes:
    return _COURT.calldata("claim_of", claim)


def challenge_calldata(claim: bytes, evidence: bytes, deficit: int) -> bytes:
    """`challenge(claim_id, evidence, deficit)`: send it with the bond (>= min_bond wei) as
    value. `deficit` is what the claim cost the bridge if false, in base units of the claim's
    asset (for a deposit attestation, exactly the amount minted)."""
    return _COURT.calldata("challenge", claim, evidence, deficit)


def vote_calldata(claim: bytes, claim_is_false: bool) -> bytes:
    return _COURT.calldata("vote", claim, claim_is_false)


def resolve_calldata(claim: bytes) -> bytes:
    return _COURT.calldata("resolve", claim)


def withdraw_payout_calldata() -> bytes:
    """`withdraw()`: a challenger takes the bond and reward credited to it."""
    return _COURT.calldata("withdraw")


@dataclass(frozen=True)
class ClaimRecorded:
    claim_id: bytes
    kind: ClaimKind
    subject: bytes
    operators: tuple[str, ...]  # checksummed, strictly ascending
    asset: int
    amount: int
    closes_at: int


@dataclass(frozen=True)
class ChallengeOpened:
    claim_id: bytes
    challenger: str
    bond: int  # wei
    deficit: int
    deadline: int  # last block whose votes count
    evidence: bytes


@dataclass(frozen=True)
class Voted:
    claim_id: bytes
    operator: str
    claim_is_false: bool
    btc_stake: int
    usdt_stake: int


@dataclass(frozen=True)
class ClaimVoided:
    claim_id: bytes
    btc_slashed: int
    usdt_slashed: int
    btc_reward: int
    usdt_reward: int


@dataclass(frozen=True)
class ChallengeRejected:
    claim_id: bytes
    bond: int


@dataclass(frozen=True)
class DeficitCovered:
    asset: int
    amount: int
    outstanding: int  # what is still not covered


CourtEvent = (
    ClaimRecorded | ChallengeOpened | Voted | ClaimVoided | ChallengeRejected | DeficitCovered
)
_EVENTS: dict[str, type[CourtEvent]] = {
    cls.__name__: cls
    for cls in (
        ClaimRecorded,
        ChallengeOpened,
        Voted,
        ClaimVoided,
        ChallengeRejected,
        DeficitCovered,
    )
}


def decode_court_log(topics: Sequence[bytes], data: bytes) -> CourtEvent | None:
    """The court event a log carries (topics and data as bytes), or None for another log."""
    decoded = _COURT.decode_event(list(topics), data)
    if decoded is None or decoded[0] not in _EVENTS:
        return None
    name, args = decoded
    return _EVENTS[name](**{key: _value(key, value) for key, value in args.items()})


def _value(key: str, value: Any) -> Any:
    if key == "kind":
        return ClaimKind(value)
    if key == "operators":
        return tuple(to_checksum_address(operator) for operator in value)
    if key in ("challenger", "operator"):
        return to_checksum_address(value)
    return value


_COURT = load_artifact("ChallengeCourt")
