"""The ChallengeCourt's vocabulary in Python: claim kinds, statuses and claim ids."""

from enum import IntEnum

from eth_abi import encode
from eth_utils import keccak


class ClaimKind(IntEnum):
    """What an operator claimed (ChallengeCourt.vy KIND_*)."""

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
