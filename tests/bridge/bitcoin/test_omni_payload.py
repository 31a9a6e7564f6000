"""Omni class C payloads: round trips, vectors from the Omni spec, and refused fields."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.bitcoin.omni.errors import InvalidOmniField, OmniPayloadError, UnsupportedOmniMessage
from bridge.bitcoin.omni.payload import (
    MAX_AMOUNT,
    MAX_PAYLOAD,
    CreateManagedProperty,
    GrantTokens,
    PropertyType,
    SimpleSend,
    decode,
    encode,
    op_return_script,
    payload_of_outputs,
)


def test_spec_class_c_example_is_a_usdt_simple_send():
    # The Omni spec's class C example output: OP_RETURN push(20) "omni" + payload.
    script = bytes.fromhex("6a146f6d6e69000000000000001f0000000df8475800")
    payload = payload_of_outputs([script])
    assert decode(payload) == SimpleSend(property_id=31, amount=60_000_000_000)  # 600 USDT
    assert op_return_script(SimpleSend(31, 60_000_000_000)) == script


def test_spec_simple_send_of_one_omni_is_sixteen_bytes():
    # Spec, "Transfer Coins": version 0, type 0, currency 1, 100,000,000 (1.0 coins).
    assert encode(SimpleSend(1, 100_000_000)) == b"omni" + bytes.fromhex(
        "00000000000000010000000005f5e100"
    )


def test_spec_quantum_miner_managed_property_fields():
    # Spec, "New Property with Managed Number of Tokens" example (type 54).
    message = CreateManagedProperty(
        name="Quantum Miner",
        ecosystem=1,
        property_type=PropertyType.INDIVISIBLE,
        category="Companies",
        subcategory="Bitcoin Mining",
        url="tinyurl.com/kwejgoig",
    )
    expected = (
        bytes.fromhex("0000003601000100000000")
        + b"Companies\0Bitcoin Mining\0Quantum Miner\0tinyurl.com/kwejgoig\0\0"
    )
    assert encode(message) == b"omni" + expected
    assert decode(encode(message)) == message


def test_spec_grant_of_1000_tokens_of_property_8_with_memo():
    # Spec, "Granting Tokens for a Managed Property" example (type 55).
    message = GrantTokens(8, 1000, "First Milestone Reached!")
    expected = bytes.fromhex("000000370000000800000000000003e8")
    assert encode(message) == b"omni" + expected + b"First Milestone Reached!\0"
    assert decode(encode(message)) == message


def test_grant_without_memo_decodes():
    payload = b"omni" + bytes.fromhex("00000037000000030000000000000064")
    assert decode(payload) == GrantTokens(3, 100)


@given(st.integers(1, 0xFFFFFFFF), st.integers(1, MAX_AMOUNT))
def test_simple_send_round_trips(property_id, amount):
    message = SimpleSend(property_id, amount)
    assert decode(encode(message)) == message
    assert len(encode(message)) == 4 + 16


@given(st.integers(1, 0xFFFFFFFF), st.integers(1, MAX_AMOUNT), st.text(max_size=20))
def test_grant_round_trips(property_id, amount, memo):
    message = GrantTokens(property_id, amount, memo.replace("\0", ""))
    assert decode(encode(message)) == message


@given(
    st.text(min_size=1, max_size=10).filter(lambda s: "\0" not in s),
    st.sampled_from([1, 2]),
    st.sampled_from(list(PropertyType)),
)
def test_managed_property_round_trips(name, ecosystem, property_type):
    message = CreateManagedProperty(name, ecosystem, property_type, category="x")
    assert decode(encode(message)) == message


def test_pushes_and_outputs_are_joined_as_omni_core_reads_them():
    send = encode(SimpleSend(31, 5))
    first = bytes([0x6A, 8]) + send[:8]
    second = bytes([0x6A, 4]) + b"omni" + bytes([len(send) - 8]) + send[8:]
    assert payload_of_outputs([first, b"\x00\x14" + b"\x01" * 20, second]) == send


def test_outputs_without_the_marker_carry_no_payload():
    assert payload_of_outputs([bytes.fromhex("6a0401020304"), b"\x00\x14" + b"\x01" * 20]) is None


def omni(*hex_fields: str) -> bytes:
    return b"omni" + bytes.fromhex("".join(hex_fields))


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b"omn", OmniPayloadError),
        (b"omni\x00", OmniPayloadError),
        (omni("0000", "0000", "0000001f"), OmniPayloadError),
        (omni("0000", "0000", "0000001f", "0000000000000000"), OmniPayloadError),
        (omni("0000", "0000", "0000001f", "8000000000000000"), OmniPayloadError),
        (omni("0000", "0036", "01", "0002", "00000000") + b"a\0b\0", OmniPayloadError),
        (omni("0000", "0003", "0000001f", "0000000000000001"), UnsupportedOmniMessage),
        (omni("0001", "0000", "0000001f", "0000000000000001"), UnsupportedOmniMessage),
    ],
)
def test_bad_payloads_are_refused_with_the_bytes(payload, error):
    with pytest.raises(error) as raised:
        decode(payload)
    assert raised.value.payload == payload


def test_unsupported_message_names_version_and_type():
    with pytest.raises(UnsupportedOmniMessage) as raised:
        decode(b"omni" + bytes.fromhex("00000032") + b"\0" * 20)
    assert (raised.value.version, raised.value.tx_type) == (0, 50)


@pytest.mark.parametrize("amount", [0, -1, MAX_AMOUNT + 1, 1.5, True])
def test_amount_outside_int64_range_is_refused(amount):
    with pytest.raises(InvalidOmniField) as raised:
        SimpleSend(31, amount)
    assert raised.value.value == amount


@pytest.mark.parametrize("property_id", [0, 2**32])
def test_property_id_outside_u32_is_refused(property_id):
    with pytest.raises(InvalidOmniField, match="property_id"):
        SimpleSend(property_id, 1)


def test_managed_property_fields_are_checked():
    with pytest.raises(InvalidOmniField, match="ecosystem"):
        CreateManagedProperty("USDT", ecosystem=3)
    with pytest.raises(InvalidOmniField, match="name"):
        CreateManagedProperty("")
    with pytest.raises(InvalidOmniField, match="previous_property_id"):
        CreateManagedProperty("USDT", previous_property_id=7)
    with pytest.raises(InvalidOmniField, match="category"):
        CreateManagedProperty("USDT", category="x" * 256)


def test_payload_above_76_bytes_is_refused():
    with pytest.raises(InvalidOmniField, match=f"at most {MAX_PAYLOAD}"):
        encode(CreateManagedProperty("x" * 80))
