"""State commitments the federation records on the sidechain (Bridge.record_commitment).

The federation anchors `SLC1 || height || state root` on Bitcoin; m members then sign the same
(height, root) as EIP-712 `Commitment(uint64 height,bytes32 stateRoot)` under the Bridge's
domain, and one of them sends `record_commitment(height, root, signatures)`, which opens the
commitment's fraud-proof window in the court (claim kind STATE_COMMITMENT, subject the digest).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from restaking.court import ClaimKind, claim_id
from restaking.errors import MalformedCommitment
from sidechain.attestation import attestation_digest, sign_attestation
from sidechain.contracts import load_artifact
from sidechain.predeploys import BRIDGE_ADDRESS

_UINT64_MAX = 2**64 - 1


@dataclass(frozen=True)
class Commitment:
    """The federation's claim that the sidechain's state root at `height` is `state_root`."""

    height: int
    state_root: bytes

    PRIMARY_TYPE: ClassVar[str] = "Commitment"
    FIELDS: ClassVar[list[dict[str, str]]] = [
        {"name": "height", "type": "uint64"},
        {"name": "stateRoot", "type": "bytes32"},
    ]

    def __post_init__(self) -> None:
        if not 0 <= self.height <= _UINT64_MAX:
            raise MalformedCommitment(f"height out of range 0..2**64-1: {self.height}")
        if len(self.state_root) != 32 or not any(self.state_root):
            raise MalformedCommitment("state root must be 32 bytes, not all zero")

    def eip712_message(self) -> dict[str, Any]:
        return {"height": self.height, "stateRoot": self.state_root}

    def digest(self, chain_id: int, bridge: bytes = BRIDGE_ADDRESS) -> bytes:
        """What members sign, equal to Bridge.commitment_digest; the claim's subject."""
        return attestation_digest(self, chain_id, bridge)

    def claim_id(self, chain_id: int, bridge: bytes = BRIDGE_ADDRESS) -> bytes:
        return claim_id(ClaimKind.STATE_COMMITMENT, self.digest(chain_id, bridge))


def sign_commitment(
    commitment: Commitment, private_key: bytes | str, chain_id: int, bridge: bytes = BRIDGE_ADDRESS
) -> bytes:
    """One member's 65-byte r || s || v signature of `commitment`."""
    return sign_attestation(commitment, private_key, chain_id, bridge)


def record_commitment_calldata(commitment: Commitment, signatures: Sequence[bytes]) -> bytes:
    """`Bridge.record_commitment(height, root, signatures)`; at least the threshold of member
    signatures, ordered by signer address, strictly ascending."""
    return load_artifact("Bridge").calldata(
        "record_commitment", commitment.height, commitment.state_root, list(signatures)
    )
