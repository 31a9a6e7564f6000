"""A stopped node (SIGTERM, or kill -9) starts again with the same head, balances and receipts."""

import json
import signal

import pytest
from eth_account import Account

RECIPIENT = "0x" + "22" * 20


def _pay(node, account, value: int) -> dict:
    tx = {
        "to": RECIPIENT,
        "value": value,
        "gas": 21000,
        "gasPrice": int(node.rpc("eth_gasPrice"), 16),
        "nonce": int(node.rpc("eth_getTransactionCount", account.address, "pending"), 16),
        "chainId": int(node.rpc("eth_chainId"), 16),
    }
    raw = "0x" + account.sign_transaction(tx).raw_transaction.hex()
    return node.wait_for_receipt(node.rpc("eth_sendRawTransaction", raw))


def _picture(node, account, receipts: list[dict]) -> tuple:
    head = node.rpc("eth_getBlockByNumber", "latest", False)
    return (
        head["number"],
        head["hash"],
        head["stateRoot"],
        node.rpc("eth_getBalance", account.address, "latest"),
        node.rpc("eth_getBalance", RECIPIENT, "latest"),
        node.rpc("eth_getTransactionCount", account.address, "latest"),
        [node.rpc("eth_getTransactionReceipt", r["transactionHash"]) for r in receipts],
    )


def _account(node):
    entries = json.loads((node.datadir / "dev-accounts.json").read_text())
    return Account.from_key(entries[0]["private_key"])


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT", "kill -9"])
def test_node_restarts_with_the_same_head_balances_and_receipts(fresh_node, how):
    account = _account(fresh_node)
    receipts = [_pay(fresh_node, account, value) for value in (1, 2, 3)]
    before = _picture(fresh_node, account, receipts)
    assert int(before[0], 16) >= 3

    exit_code = fresh_node.kill() if how == "kill -9" else fresh_node.stop(getattr(signal, how))
    assert exit_code == (-9 if how == "kill -9" else 0)
    fresh_node.start()

    assert _picture(fresh_node, account, receipts) == before
    follow_up = _pay(fresh_node, account, 4)
    assert int(follow_up["blockNumber"], 16) == int(before[0], 16) + 1
    assert int(fresh_node.rpc("eth_getBalance", RECIPIENT, "latest"), 16) == 1 + 2 + 3 + 4
