"""Evidence formats round-trip, name the claim they accuse, and refuse what cannot be evidence;
court logs decode into typed events."""

import hashlib

import pytest
from bitcoin.core import (
    CMutableTransaction,
    CMutableTxIn,
    CMutableTxOut,
    COutPoint,
    CTxInWitness,
    CTxWitness,
)
from bitcoin.core.script import CScript, CScriptWitness

from restaking.commitment import Commitment
from restaking.court import ClaimKind, ClaimRecorded, claim_id, decode_court_log
from restaking.errors import MalformedCommitment, MalformedEvidence
from restaking.evidence import (
    MAX_EVIDENCE,
    CommitmentEvidence,
    DepositEvidence,
    ReleaseEvidence,
    decode_evidence,
    encode_evidence,
    evidence_claim_id,
)
from sidechain.attestation import Attestation, Release, attestation_digest
from sidechain.predeploys import BRIDGE_ADDRESS

from .conftest import ok

CHAIN_ID = 4242


def _segwit_tx(script_size: int = 22) -> tuple[bytes, bytes]:
    """A signed-looking segwit transaction as bitcoind serialises it, and its txid (display
    order: the hash of the transaction without its witness)."""
    tx = CMutableTransaction(
        [CMutableTxIn(COutPoint(b"\x09" * 32, 1))],
        [CMutableTxOut(50_000, CScript(b"\x00\x14" + b"\x07" * (script_size - 2)))],
        nVersion=2,
    )
    tx.wit = CTxWitness([CTxInWitness(CScriptWitness([b"\x30" * 71, b"\x02" * 33]))])
    return tx.serialize(), tx.GetTxid()[::-1]


RAW_TX, TXID = _segwit_tx()
DEPOSIT = DepositEvidence(Attestation(b"\x11" * 32, 2, 0, 5_000, b"\x22" * 20), b"\x33" * 32)
RELEASE = ReleaseEvidence(Release(7, TXID), RAW_TX)
COMMITMENT = CommitmentEvidence(Commitment(900, b"\x44" * 32), b"\x55" * 32)


@pytest.mark.parametrize("evidence", [DEPOSIT, RELEASE, COMMITMENT])
def test_evidence_round_trips_and_names_its_claim(evidence):
    assert decode_evidence(encode_evidence(evidence)) == evidence
    assert evidence_claim_id(evidence, CHAIN_ID) == claim_id(
        evidence.kind, evidence.subject(CHAIN_ID)
    )


def test_subjects_are_the_bridge_digests():
    assert DEPOSIT.subject(CHAIN_ID) == attestation_digest(
        DEPOSIT.attestation, CHAIN_ID, BRIDGE_ADDRESS
    )
    assert RELEASE.subject(CHAIN_ID) == attestation_digest(
        RELEASE.release, CHAIN_ID, BRIDGE_ADDRESS
    )
    assert COMMITMENT.kind == ClaimKind.STATE_COMMITMENT


def test_what_cannot_be_evidence_is_refused():
    with pytest.raises(MalformedEvidence, match="not the released Bitcoin transaction"):
        ReleaseEvidence(Release(7, b"\x01" * 32), RAW_TX)
    wtxid = hashlib.sha256(hashlib.sha256(RAW_TX).digest()).digest()[::-1]
    with pytest.raises(MalformedEvidence, match="not the released Bitcoin transaction"):
        ReleaseEvidence(Release(7, wtxid), RAW_TX)  # the witness is not part of a txid
    with pytest.raises(MalformedEvidence, match="raw transaction does not decode"):
        ReleaseEvidence(Release(7, TXID), b"\x02\x00")
    with pytest.raises(MalformedEvidence, match="recomputed root is the committed root"):
        CommitmentEvidence(Commitment(1, b"\x44" * 32), b"\x44" * 32)
    with pytest.raises(MalformedEvidence, match="does not decode"):
        decode_evidence(b"\x01\x02")
    bad_kind = encode_evidence(DEPOSIT)[:31] + b"\x09" + encode_evidence(DEPOSIT)[32:]
    with pytest.raises(MalformedEvidence, match="unknown evidence kind 9"):
        decode_evidence(bad_kind)
    big, big_txid = _segwit_tx(script_size=9000)
    with pytest.raises(MalformedEvidence, match=f"over {MAX_EVIDENCE}"):
        encode_evidence(ReleaseEvidence(Release(7, big_txid), big))
    with pytest.raises(MalformedCommitment, match="not all zero"):
        Commitment(1, b"\x00" * 32)


def test_court_logs_decode_into_typed_events(bridge, court, federation):
    a = Attestation(b"\x66" * 32, 0, 0, 1_000, b"\x77" * 20)
    args = (a.txid, a.vout, a.asset, a.amount, a.recipient, federation.sign(a))
    result = ok(bridge.system("deposit", *args))
    events = [
        decode_court_log([t.to_bytes(32, "big") for t in topics], data)
        for address, topics, data in result.computation.get_log_entries()
    ]
    [recorded] = [e for e in events if isinstance(e, ClaimRecorded)]
    assert recorded.kind == ClaimKind.DEPOSIT_ATTESTATION
    assert recorded.operators == tuple(federation.addresses[:2])
    assert recorded.amount == 1_000
    assert None in events  # the Bridge's own Deposited log is not a court event
