"""What a challenger posts as evidence against a claim, and how watchers read it back.

The court keeps evidence opaque (it stores its hash and logs it in ChallengeOpened); voters'
watchers decode it and re-check it against their own bitcoind and their own re-execution. One
format per claim kind, ABI-encoded as (uint8 kind, bytes payload):

(a) DepositEvidence: the attested deposit, which the watcher's bitcoind does not have at the
    attested depth; `tip_hash` is the Bitcoin tip the challenger checked against.
(b) ReleaseEvidence: the release (withdrawal id, Bitcoin txid) and the raw Bitcoin transaction,
    which pays what no finalised withdrawal asked.
(c) CommitmentEvidence: the commitment and the state root re-execution gives instead.

Each names its claim: `evidence.claim_id(chain_id)` is the court id of the claim it accuses.
"""

import hashlib
from dataclasses import dataclass
from typing import ClassVar

from eth_abi import decode, encode
from eth_abi.exceptions import DecodingError

from restaking.commitment import Commitment
from restaking.court import ClaimKind, claim_id
from restaking.errors import MalformedCommitment, MalformedEvidence
from sidechain.attestation import Attestation, Release, attestation_digest
from sidechain.errors import MalformedAttestation
from sidechain.predeploys import BRIDGE_ADDRESS

MAX_EVIDENCE = 8192  # ChallengeCourt.MAX_EVIDENCE


@dataclass(frozen=True)
class DepositEvidence:
    attestation: Attestation
    tip_hash: bytes

    kind: ClassVar[ClaimKind] = ClaimKind.DEPOSIT_ATTESTATION
    TYPES: ClassVar[tuple[str, ...]] = (
        "bytes32",
        "uint32",
        "uint8",
        "uint256",
        "address",
        "bytes32",
    )

    def subject(self, chain_id: int) -> bytes:
        return attestation_digest(self.attestation, chain_id, BRIDGE_ADDRESS)

    def values(self) -> tuple[object, ...]:
        a = self.attestation
        return (a.txid, a.vout, a.asset, a.amount, a.recipient, self.tip_hash)

    @classmethod
    def from_values(cls, values: tuple[object, ...]) -> "DepositEvidence":
        txid, vout, asset, amount, recipient, tip = values
        recipient_bytes = bytes.fromhex(str(recipient)[2:])
        return cls(Attestation(txid, vout, asset, amount, recipient_bytes), tip)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ReleaseEvidence:
    release: Release
    raw_transaction: bytes

    kind: ClassVar[ClaimKind] = ClaimKind.RELEASE_SIGNATURE
    TYPES: ClassVar[tuple[str, ...]] = ("uint256", "bytes32", "bytes")

    def __post_init__(self) -> None:
        txid = hashlib.sha256(hashlib.sha256(self.raw_transaction).digest()).digest()[::-1]
        if txid != self.release.btc_txid:
            raise MalformedEvidence("the raw transaction is not the released Bitcoin transaction")

    def subject(self, chain_id: int) -> bytes:
        return attestation_digest(self.release, chain_id, BRIDGE_ADDRESS)

    def values(self) -> tuple[object, ...]:
        return (self.release.withdrawal_id, self.release.btc_txid, self.raw_transaction)

    @classmethod
    def from_values(cls, values: tuple[object, ...]) -> "ReleaseEvidence":
        withdrawal_id, btc_txid, raw = values
        return cls(Release(withdrawal_id, btc_txid), raw)  # type: ignore[arg-type]


@dataclass(frozen=True)
class CommitmentEvidence:
    commitment: Commitment
    recomputed_root: bytes

    kind: ClassVar[ClaimKind] = ClaimKind.STATE_COMMITMENT
    TYPES: ClassVar[tuple[str, ...]] = ("uint64", "bytes32", "bytes32")

    def __post_init__(self) -> None:
        if self.recomputed_root == self.commitment.state_root:
            raise MalformedEvidence("the recomputed root is the committed root")

    def subject(self, chain_id: int) -> bytes:
        return self.commitment.digest(chain_id)

    def values(self) -> tuple[object, ...]:
        c = self.commitment
        return (c.height, c.state_root, self.recomputed_root)

    @classmethod
    def from_values(cls, values: tuple[object, ...]) -> "CommitmentEvidence":
        height, root, recomputed = values
        return cls(Commitment(height, root), recomputed)  # type: ignore[arg-type]


Evidence = DepositEvidence | ReleaseEvidence | CommitmentEvidence
_FORMATS: dict[int, type[Evidence]] = {
    cls.kind: cls for cls in (DepositEvidence, ReleaseEvidence, CommitmentEvidence)
}


def evidence_claim_id(evidence: Evidence, chain_id: int) -> bytes:
    """The court id of the claim the evidence accuses."""
    return claim_id(evidence.kind, evidence.subject(chain_id))


def encode_evidence(evidence: Evidence) -> bytes:
    """The bytes to post with `challenge`; refuses evidence over the court's size limit."""
    payload = encode(list(evidence.TYPES), list(evidence.values()))
    data = encode(["uint8", "bytes"], [int(evidence.kind), payload])
    if len(data) > MAX_EVIDENCE:
        raise MalformedEvidence(f"evidence is {len(data)} bytes, over {MAX_EVIDENCE}")
    return data


def decode_evidence(data: bytes) -> Evidence:
    """The evidence in a ChallengeOpened event; MalformedEvidence says what is wrong."""
    try:
        kind, payload = decode(["uint8", "bytes"], data)
        fmt = _FORMATS.get(kind)
        if fmt is None:
            raise MalformedEvidence(f"unknown evidence kind {kind}")
        return fmt.from_values(tuple(decode(list(fmt.TYPES), payload)))
    except (DecodingError, MalformedAttestation, MalformedCommitment) as error:
        raise MalformedEvidence(f"evidence does not decode: {error}") from error
