"""Parameter parsing: hex quantities, data, addresses, block ids, call and filter objects."""

import pytest

from sidechain.rpc.errors import InvalidParams
from sidechain.rpc.params import (
    Params,
    ValueInvalid,
    address,
    block_id,
    call_request,
    data,
    log_query,
    quantity,
    storage_slot,
)
from sidechain.views import CallRequest

ADDR = "0x" + "ab" * 20
HASH = "0x" + "cd" * 32


@pytest.mark.parametrize(("text", "value"), [("0x0", 0), ("0x1f", 31), ("0X10", 16)])
def test_quantities_parse_to_ints(text, value):
    assert quantity(text) == value


@pytest.mark.parametrize("text", ["0x", "0x01", "12", 12, "0xzz", "0x1" + "0" * 64, None])
def test_malformed_quantities_are_refused(text):
    with pytest.raises(ValueInvalid):
        quantity(text)


def test_data_must_have_an_even_number_of_digits():
    assert data("0x") == b""
    assert data("0xbeef") == b"\xbe\xef"
    with pytest.raises(ValueInvalid, match="odd number"):
        data("0xabc")


def test_an_address_must_be_twenty_bytes():
    assert address(ADDR) == b"\xab" * 20
    with pytest.raises(ValueInvalid, match="must be 20 bytes, got 19 bytes"):
        address("0x" + "ab" * 19)


def test_storage_slots_accept_leading_zeros_like_geth():
    assert storage_slot("0x" + "00" * 31 + "05") == 5
    assert storage_slot("0x0") == 0


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("latest", "latest"),
        ("safe", "safe"),
        ("0x10", 16),
        (HASH, bytes.fromhex("cd" * 32)),
        ({"blockHash": HASH, "requireCanonical": True}, bytes.fromhex("cd" * 32)),
        ({"blockNumber": "0x2"}, 2),
    ],
)
def test_block_ids_are_tags_numbers_or_hashes(value, parsed):
    assert block_id(value) == parsed


@pytest.mark.parametrize("value", ["newest", "0x", {"blockNumber": "0x1", "blockHash": HASH}, 7])
def test_bad_block_ids_are_refused(value):
    with pytest.raises(ValueInvalid):
        block_id(value)


def test_a_call_request_reads_every_field():
    request = call_request(
        {"from": ADDR, "to": ADDR, "gas": "0x5208", "value": "0x1", "input": "0x01", "nonce": "0x3"}
    )
    assert request == CallRequest(
        sender=b"\xab" * 20, to=b"\xab" * 20, gas=21000, value=1, data=b"\x01"
    )


def test_a_call_request_refuses_differing_data_and_input():
    with pytest.raises(ValueInvalid, match="differ"):
        call_request({"data": "0x01", "input": "0x02"})


def test_a_call_request_refuses_legacy_and_dynamic_fees_together():
    with pytest.raises(ValueInvalid, match="gasPrice"):
        call_request({"gasPrice": "0x1", "maxFeePerGas": "0x2"})


def test_a_bad_field_is_named_in_the_error():
    with pytest.raises(ValueInvalid, match="field to: address must be 20 bytes"):
        call_request({"to": "0x1234"})


def test_log_query_topics_allow_wildcards_and_alternatives():
    query = log_query(
        {"fromBlock": "0x1", "toBlock": "latest", "address": ADDR, "topics": [None, [HASH, HASH]]}
    )
    assert query.from_block == 1
    assert query.to_block == "latest"
    assert query.addresses == (b"\xab" * 20,)
    assert query.topics == (None, (bytes.fromhex("cd" * 32),))


def test_log_query_refuses_block_hash_with_a_range():
    with pytest.raises(ValueInvalid, match="blockHash cannot be combined"):
        log_query({"blockHash": HASH, "fromBlock": "0x1"})


def test_log_query_refuses_more_than_four_topic_positions():
    with pytest.raises(ValueInvalid, match="at most 4"):
        log_query({"topics": [None] * 5})


def test_params_count_trailing_nulls_as_absent():
    params = Params(["0x1", None])
    params.expect(1)
    assert params.optional(1, quantity, 9) == 9


def test_params_name_a_missing_required_argument():
    with pytest.raises(InvalidParams, match="missing value for required argument 1"):
        Params(["0x1"]).get(1, quantity)


def test_log_query_block_zero_is_not_mistaken_for_absent():
    assert log_query({"fromBlock": "0x0", "toBlock": "0x0"}).from_block == 0
    assert log_query({}).from_block == "latest"
