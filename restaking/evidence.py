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

from dataclasses import dataclass
from typing import Any, ClassVar

from bitcoin.core import CTransaction
from bitcoin.core.serialize import SerializationError
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

    def describe(self) -> dict[str, Any]:
        a = self.attestation
        return {
            "deposit_id": a.deposit_id,
            "asset": a.asset,
            "amount": a.amount,
            "recipient": "0x" + a.recipient.hex(),
            "tip_hash": self.tip_hash.hex(),
        }

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
        try:
            tx = CTransaction.deserialize(self.raw_transaction)
        except (ValueError, SerializationError) as error:
            raise MalformedEvidence(f"the raw transaction does not decode: {error}") from error
        if tx.GetTxid()[::-1] != self.release.btc_txid:
            raise MalformedEvidence("the raw transaction is not the released Bitcoin transaction")

    def subject(self, chain_id: int) -> bytes:
        return attestation_digest(self.release, chain_id, BRIDGE_ADDRESS)

    def values(self) -> tuple[object, ...]:
        return (self.release.withdrawal_id, self.release.btc_txid, self.raw_transaction)

    def describe(self) -> dict[str, Any]:
        return {
            "withdrawal_id": f"0x{self.release.withdrawal_id:064x}",
            "btc_txid": self.release.btc_txid.hex(),
            "raw_transaction": self.raw_transaction.hex(),
        }

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

    def describe(self) -> dict[str, Any]:
        return {
            "height": self.commitment.height,
            "state_root": "0x" + self.commitment.state_root.hex(),
            "recomputed_root": "0x" + self.recomputed_root.hex(),
        }

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


def evidence_json(data: bytes) -> dict[str, Any]:
    """What a ledger keeps of posted evidence: its bytes (0x-hex) and, when they decode, its
    kind and fields; evidence that does not decode says why."""
    raw = "0x" + data.hex()
    try:
        evidence = decode_evidence(data)
    except MalformedEvidence as error:
        return {"data": raw, "malformed": str(error)}
    return {"data": raw, "kind": evidence.kind.name.lower(), **evidence.describe()}
