"""sidechain.attestation: signing and recovering the federation's EIP-712 messages."""

import pytest
from eth_account import Account
from eth_keys.constants import SECPK1_N
from eth_utils import to_canonical_address

from sidechain.attestation import (
    Attestation,
    Refund,
    Release,
    attestation_digest,
    recover_attester,
    sign_attestation,
    typed_data,
)
from sidechain.errors import MalformedAttestation
from sidechain.predeploys import BRIDGE_ADDRESS

CHAIN_ID = 4242
MEMBER = Account.from_key(b"\x31" * 32)
ATTESTATION = Attestation(
    txid=b"\xab" * 32, vout=3, asset=0, amount=100_000, recipient=b"\xcd" * 20
)
MESSAGES = [ATTESTATION, Refund(5), Release(5, b"\xef" * 32)]


@pytest.mark.parametrize("message", MESSAGES, ids=["deposit", "refund", "release"])
def test_signature_recovers_the_member(message):
    signature = sign_attestation(message, MEMBER.key, CHAIN_ID, BRIDGE_ADDRESS)
    assert len(signature) == 65 and signature[64] in (27, 28)
    assert recover_attester(message, signature, CHAIN_ID, BRIDGE_ADDRESS) == to_canonical_address(
        MEMBER.address
    )


@pytest.mark.parametrize(
    ("chain_id", "bridge"), [(CHAIN_ID + 1, BRIDGE_ADDRESS), (CHAIN_ID, b"\x51" * 20)]
)
def test_signature_is_bound_to_chain_and_bridge(chain_id, bridge):
    signature = sign_attestation(ATTESTATION, MEMBER.key, CHAIN_ID, BRIDGE_ADDRESS)
    recovered = recover_attester(ATTESTATION, signature, chain_id, bridge)
    assert recovered != to_canonical_address(MEMBER.address)
    assert attestation_digest(ATTESTATION, chain_id, bridge) != attestation_digest(
        ATTESTATION, CHAIN_ID, BRIDGE_ADDRESS
    )


def test_typed_data_names_the_domain_and_the_deposit_type():
    data = typed_data(ATTESTATION, CHAIN_ID, BRIDGE_ADDRESS)
    assert data["domain"] == {
        "name": "Sluice Bridge",
        "version": "1",
        "chainId": CHAIN_ID,
        "verifyingContract": "0x5100000000000000000000000000000000000001",
    }
    assert data["primaryType"] == "Deposit"
    assert [f["type"] for f in data["types"]["Deposit"]] == [
        "bytes32",
        "uint32",
        "uint8",
        "uint256",
        "address",
    ]


def test_deposit_id_is_display_txid_and_vout():
    assert ATTESTATION.deposit_id == "ab" * 32 + ":3"


def test_high_s_twin_of_a_valid_signature_is_refused():
    signature = sign_attestation(ATTESTATION, MEMBER.key, CHAIN_ID, BRIDGE_ADDRESS)
    s = int.from_bytes(signature[32:64], "big")
    twin = signature[:32] + (SECPK1_N - s).to_bytes(32, "big") + bytes([55 - signature[64]])
    with pytest.raises(MalformedAttestation, match="lower half"):
        recover_attester(ATTESTATION, twin, CHAIN_ID, BRIDGE_ADDRESS)


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        (b"\x01" * 64, "must be 65 bytes, got 64"),
        (b"\x01" * 64 + b"\x01", "v must be 27 or 28, got 1"),
        (b"\x01" * 32 + b"\x00" * 32 + b"\x1b", "lower half"),
        (b"\x00" * 32 + b"\x01" * 32 + b"\x1b", "does not recover a signer"),
    ],
)
def test_malformed_signature_is_refused(signature, reason):
    with pytest.raises(MalformedAttestation, match=reason):
        recover_attester(ATTESTATION, signature, CHAIN_ID, BRIDGE_ADDRESS)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"txid": b"\xab" * 31}, "txid must be 32 bytes, got 31"),
        ({"vout": 2**32}, "vout out of range"),
        ({"asset": 2}, "unknown asset 2"),
        ({"amount": 0}, "amount must be positive: 0"),
        ({"recipient": b"\x01" * 19}, "recipient must be 20 bytes"),
        ({"recipient": b"\x00" * 20}, "recipient is the zero address"),
    ],
)
def test_malformed_attestation_is_refused(fields, reason):
    values = {"txid": b"\xab" * 32, "vout": 0, "asset": 1, "amount": 1, "recipient": b"\x01" * 20}
    with pytest.raises(MalformedAttestation, match=reason):
        Attestation(**{**values, **fields})


def test_malformed_refund_and_release_are_refused():
    with pytest.raises(MalformedAttestation, match="withdrawal id must be positive: 0"):
        Refund(0)
    with pytest.raises(MalformedAttestation, match="btc_txid must be 32 bytes"):
        Release(1, b"\x00")
