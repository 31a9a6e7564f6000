"""Log queries stay within the block-range limit: eth_getLogs refuses, filters catch up in steps.

The app runs in-process over a real node (dev data directory) so blocks can be made on demand.
"""

import os

import pytest
from aiohttp.test_utils import TestClient, TestServer

from sidechain.attestation import Attestation, sign_attestation
from sidechain.datadir import DEV_FEDERATION_FILE, init_dev, read_dev_accounts
from sidechain.node import Node
from sidechain.predeploys import BRIDGE_ADDRESS
from sidechain.rpc.app import RpcSettings, build_app
from sidechain.system_tx import ASSET_BTC
from tests.support.node import open_node

LIMIT = 3


@pytest.fixture
async def client_and_node(tmp_path):
    init_dev(tmp_path, accounts=1)
    node = open_node(tmp_path)
    try:
        app = build_app(node, RpcSettings(max_log_block_range=LIMIT))
        async with TestClient(TestServer(app)) as client:
            yield client, node
    finally:
        node.close()


async def _call(client, method: str, *params):
    response = await client.post(
        "/", json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    )
    return await response.json()


async def test_get_logs_over_the_block_range_limit_is_refused(client_and_node):
    client, node = client_and_node
    for _ in range(LIMIT + 1):
        node.produce_block()
    within = await _call(client, "eth_getLogs", {"fromBlock": "0x1", "toBlock": hex(LIMIT)})
    assert within["result"] == []
    over = await _call(client, "eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest"})
    assert over["error"]["code"] == -32005
    assert f"over the limit of {LIMIT}" in over["error"]["message"]


async def test_a_block_filter_reports_each_new_block_once(client_and_node):
    client, node = client_and_node
    filter_id = (await _call(client, "eth_newBlockFilter"))["result"]
    made = [node.produce_block().hash for _ in range(2)]
    changes = (await _call(client, "eth_getFilterChanges", filter_id))["result"]
    assert changes == ["0x" + block_hash.hex() for block_hash in made]
    assert (await _call(client, "eth_getFilterChanges", filter_id))["result"] == []
    assert (await _call(client, "eth_uninstallFilter", filter_id))["result"] is True
    gone = await _call(client, "eth_getFilterChanges", filter_id)
    assert gone["error"] == {"code": -32000, "message": "filter not found"}


def _mint_in_new_block(node: Node, federation) -> None:
    """A block holding one deposit transaction, which logs (the Bridge's events)."""
    attestation = Attestation(os.urandom(32), 0, ASSET_BTC, 1000, b"\x33" * 20)
    for member in federation[: node.genesis.threshold]:
        signature = sign_attestation(attestation, member.private_key, node.chain_id, BRIDGE_ADDRESS)
        node.submit_attestation(attestation, signature)
    assert len(node.produce_block().transactions) == 1


async def test_a_log_filter_far_behind_catches_up_within_the_limit(client_and_node, tmp_path):
    client, node = client_and_node
    federation = read_dev_accounts(tmp_path / DEV_FEDERATION_FILE)
    filter_id = (await _call(client, "eth_newFilter", {"fromBlock": "latest"}))["result"]
    first_block = node.head().number + 1
    for _ in range(2 * LIMIT + 1):
        _mint_in_new_block(node, federation)
    polls = [(await _call(client, "eth_getFilterChanges", filter_id))["result"] for _ in range(4)]
    blocks_per_poll = [sorted({int(log["blockNumber"], 16) for log in poll}) for poll in polls]
    assert blocks_per_poll == [
        list(range(first_block, first_block + LIMIT)),
        list(range(first_block + LIMIT, first_block + 2 * LIMIT)),
        [first_block + 2 * LIMIT],
        [],
    ]


async def test_a_filter_on_an_unknown_block_hash_is_refused(client_and_node):
    client, _ = client_and_node
    response = await _call(client, "eth_newFilter", {"blockHash": "0x" + "ab" * 32})
    assert response["error"] == {"code": -32000, "message": "header not found"}
