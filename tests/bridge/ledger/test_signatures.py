"""Federation signatures: one per signer and part, stored once, conflicting bytes refused."""

import pytest
from sqlalchemy.orm import Session

from bridge.ledger import DuplicateRecord, Ledger

MEMBER_A = "0x" + "a1" * 20
MEMBER_B = "0x" + "b2" * 20


def test_signatures_are_collected_per_subject_and_part(session: Session) -> None:
    signatures = Ledger(session).signatures
    first = signatures.add(
        "deposit_attestation", "ab:0", MEMBER_A.upper().replace("0X", "0x"), b"\x01" * 65
    )
    assert signatures.add("deposit_attestation", "ab:0", MEMBER_A, b"\x01" * 65) is first
    signatures.add("deposit_attestation", "ab:0", MEMBER_B, b"\x02" * 65)
    signatures.add("release_input", "cd", MEMBER_A, b"\x03" * 72, part=1)
    signatures.add("release_input", "cd", MEMBER_A, b"\x04" * 72, part=0)
    session.commit()
    assert signatures.signers("deposit_attestation", "ab:0") == {MEMBER_A, MEMBER_B}
    assert [(s.part, s.signature) for s in signatures.for_subject("release_input", "cd")] == [
        (0, b"\x04" * 72),
        (1, b"\x03" * 72),
    ]
    assert signatures.signers("release_input", "cd", part=2) == set()


def test_a_second_different_signature_by_the_same_signer_is_refused(session: Session) -> None:
    signatures = Ledger(session).signatures
    signatures.add("state_commitment", "1000", MEMBER_A, b"\x01")
    with pytest.raises(DuplicateRecord, match="state_commitment:1000:0"):
        signatures.add("state_commitment", "1000", MEMBER_A, b"\x02")
