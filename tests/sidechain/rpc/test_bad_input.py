"""Bad input gets the standard JSON-RPC error and leaves the node's state as it was."""

import json
from contextlib import contextmanager

import pytest
import rlp
from eth_account import Account

from sidechain.rpc.server import Limits


@contextmanager
def state_kept(node, accounts):
    """Asserts, on leaving, that no transaction was included and no balance or nonce moved.

    The node keeps making empty blocks on its interval, so new blocks may appear: each must
    be empty."""
    watched = [a.address for a in accounts[:3]]

    def snapshot():
        return (
            [node.rpc("eth_getBalance", a, "latest") for a in watched],
            [node.rpc("eth_getTransactionCount", a, "pending") for a in watched],
        )

    head = int(node.rpc("eth_blockNumber"), 16)
    before = snapshot()
    yield
    assert snapshot() == before
    for number in range(head + 1, int(node.rpc("eth_blockNumber"), 16) + 1):
        assert node.rpc("eth_getBlockByNumber", hex(number), False)["transactions"] == []


@pytest.fixture
def unchanged(node, accounts):
    with state_kept(node, accounts):
        yield


def _transfer(node, account, **overrides) -> dict:
    tx = {
        "to": "0x" + "11" * 20,
        "value": 1,
        "gas": 21000,
        "maxFeePerGas": int(node.rpc("eth_gasPrice"), 16) * 2,
        "maxPriorityFeePerGas": int(node.rpc("eth_maxPriorityFeePerGas"), 16),
        "nonce": int(node.rpc("eth_getTransactionCount", account.address, "pending"), 16),
        "chainId": int(node.rpc("eth_chainId"), 16),
    } | overrides
    return tx


def _send_signed(node, account, **overrides) -> dict:
    signed = account.sign_transaction(_transfer(node, account, **overrides))
    return node.call("eth_sendRawTransaction", "0x" + signed.raw_transaction.hex())


def _rejected(response: dict, message_start: str) -> None:
    assert "result" not in response, response
    assert response["error"]["code"] == -32000
    assert response["error"]["message"].startswith(message_start), response["error"]


def test_malformed_json_is_a_parse_error(node, unchanged):
    status, response = node.post(b'{"jsonrpc": "2.0", "method": "eth_blockNumber", "id": 1')
    assert status == 200
    assert response["error"]["code"] == -32700
    assert response["id"] is None


def test_deeply_nested_json_is_a_parse_error_and_the_node_lives_on(node, unchanged):
    status, response = node.post(b"[" * 300_000 + b"]" * 300_000)
    assert (status, response["error"]["code"]) == (200, -32700)
    assert node.rpc("eth_chainId") == hex(5151)


def test_a_request_that_is_not_json_rpc_is_invalid(node, unchanged):
    _, response = node.post(b'{"method": "eth_blockNumber", "id": 3}')
    assert response["error"]["code"] == -32600
    assert response["id"] == 3


def test_an_unknown_method_is_method_not_found(node, unchanged):
    assert node.call("eth_coinbaseOfTheMoon")["error"]["code"] == -32601


@pytest.mark.parametrize(
    ("method", "params", "message"),
    [
        ("eth_getBalance", ["0x1234", "latest"], "invalid argument 0: address must be 20 bytes"),
        ("eth_getBalance", ["0x" + "00" * 20, "newest"], "invalid argument 1: block must be"),
        ("eth_getBlockByNumber", ["0x0"], "expected 2 arguments, got 1"),
        ("eth_blockNumber", ["0x1"], "expected 0 arguments, got 1"),
        ("eth_sendRawTransaction", ["0xabc"], "invalid argument 0: data '0xabc' has an odd"),
        ("eth_call", [{"to": "0x" + "00" * 20, "value": "0x01"}], "invalid argument 0: field"),
        ("eth_getLogs", [{"topics": [None] * 5}], "invalid argument 0: field topics: topics has 5"),
    ],
)
def test_wrong_params_are_invalid_params(node, unchanged, method, params, message):
    error = node.call(method, *params)["error"]
    assert error["code"] == -32602
    assert error["message"].startswith(message), error


def test_a_log_range_is_capped_at_the_head_and_must_not_be_inverted(node):
    """(The range limit itself is tested in test_log_limits.py, on a node with a small limit.)"""
    capped = node.call("eth_getLogs", {"fromBlock": "0x0", "toBlock": hex(10**6)})
    assert capped["result"] == []
    inverted = node.call("eth_getLogs", {"fromBlock": "0x5", "toBlock": "0x1"})
    assert inverted["error"]["code"] == -32602


def test_an_unknown_block_gives_null_or_header_not_found(node):
    assert node.rpc("eth_getBlockByNumber", hex(10**9), False) is None
    assert node.rpc("eth_getBlockByHash", "0x" + "ab" * 32, False) is None
    error = node.call("eth_getBalance", "0x" + "00" * 20, hex(10**9))["error"]
    assert error == {"code": -32000, "message": "header not found"}


def test_a_body_over_the_limit_is_refused_before_parsing(node, unchanged):
    status, response = node.post(b" " * (Limits().max_body_bytes + 1))
    assert status == 413
    assert response["error"]["code"] == -32600


def test_a_batch_mixes_results_and_errors_in_order(node):
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"},
        {"jsonrpc": "2.0", "id": 2, "method": "no_such_method"},
        {"jsonrpc": "2.0", "id": 3, "method": "eth_getBalance", "params": ["0x12"]},
    ]
    _, responses = node.post(json.dumps(batch).encode())
    assert [r["id"] for r in responses] == [1, 2, 3]
    assert responses[0]["result"] == node.rpc("eth_chainId")
    assert responses[1]["error"]["code"] == -32601
    assert responses[2]["error"]["code"] == -32602


def test_nonce_too_low_is_rejected(node, accounts):
    sender = accounts[0]
    mined = node.wait_for_receipt(_send_signed(node, sender)["result"])
    assert mined["status"] == "0x1"
    with state_kept(node, accounts):
        _rejected(_send_signed(node, sender, nonce=0), "nonce too low")


def test_insufficient_funds_is_rejected(node, unchanged):
    pauper = Account.create()
    _rejected(_send_signed(node, pauper), "insufficient funds for gas * price + value")


def test_fee_cap_below_base_fee_is_underpriced(node, accounts, unchanged):
    _rejected(
        _send_signed(node, accounts[0], maxFeePerGas=1, maxPriorityFeePerGas=1),
        "transaction underpriced",
    )


def test_a_transaction_for_another_chain_is_rejected(node, accounts, unchanged):
    _rejected(_send_signed(node, accounts[0], chainId=1), "invalid chain id")


def test_a_signature_that_recovers_no_sender_is_rejected(node, accounts, unchanged):
    legacy = _transfer(node, accounts[0])
    legacy = {k: v for k, v in legacy.items() if not k.startswith("max")} | {"gasPrice": 10**10}
    fields = rlp.decode(bytes(accounts[0].sign_transaction(legacy).raw_transaction))
    fields[7] = b""  # r = 0: no public key recovers from it
    response = node.call("eth_sendRawTransaction", "0x" + rlp.encode(fields).hex())
    _rejected(response, "invalid sender")


def test_an_oversized_transaction_is_rejected(node, accounts, unchanged):
    response = _send_signed(node, accounts[0], data=b"\x01" * (129 * 1024), gas=29_000_000)
    _rejected(response, "oversized data")


def test_undecodable_bytes_are_rejected(node, unchanged):
    _rejected(node.call("eth_sendRawTransaction", "0x02ff"), "malformed transaction")
