"""Node errors map to the JSON-RPC codes and messages geth uses, so clients react the same."""

from eth_abi import encode

from sidechain import errors as node_errors
from sidechain.rpc.errors import from_node_error

ERROR_SELECTOR = bytes.fromhex("08c379a0")


def test_a_revert_with_a_reason_is_code_3_with_the_revert_data():
    revert_data = ERROR_SELECTOR + encode(["string"], ["not enough"])
    error = from_node_error(node_errors.ExecutionReverted(revert_data, "not enough"))
    assert error.to_json() == {
        "code": 3,
        "message": "execution reverted: not enough",
        "data": "0x" + revert_data.hex(),
    }


def test_a_revert_with_custom_error_data_keeps_the_data_without_a_reason():
    error = from_node_error(node_errors.ExecutionReverted(b"\xde\xad\xbe\xef", None))
    assert error.to_json() == {"code": 3, "message": "execution reverted", "data": "0xdeadbeef"}


def test_a_revert_without_data_is_a_plain_server_error():
    error = from_node_error(node_errors.ExecutionReverted(b"", None))
    assert error.to_json() == {"code": -32000, "message": "execution reverted"}


def test_a_mempool_rejection_is_a_server_error_with_the_geth_wording():
    error = from_node_error(node_errors.NonceTooLow(b"\x01" * 20, 1, 2))
    assert error.code == -32000
    assert error.message.startswith("nonce too low: address 0x0101")


def test_an_unknown_block_is_header_not_found():
    assert from_node_error(node_errors.UnknownBlock(99)).to_json() == {
        "code": -32000,
        "message": "header not found",
    }


def test_a_malformed_attestation_is_invalid_params():
    error = from_node_error(node_errors.MalformedAttestation("vout out of range"))
    assert error.code == -32602
