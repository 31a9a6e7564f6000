"""The withdrawal side's loops are built from a member's config and serve its signing peers."""

import dataclasses
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
from coincurve import PrivateKey
from eth_account import Account

from bridge.bitcoin.rpc import BitcoinRPC
from bridge.ledger import ledger_sessions
from bridge.ledger.testing import sqlite_ledger
from relayer.daemon import Faults, Loop
from relayer.keys import MemberKeys
from relayer.node_client import NodeClient
from relayer.release_loops import federation_loops
from relayer.runner import RelayerContext
from relayer.signing import seal
from relayer.signing_server import PEER_PATH
from sluice.config import BridgeConfig, Config, RelayerConfig
from tests.sidechain.rpc.conftest import free_port


async def test_the_factory_builds_its_stages_and_a_server_that_only_peers_may_use(
    tmp_path: Path,
) -> None:
    keys = [MemberKeys(n, PrivateKey(), Account.create()) for n in (1, 2)]
    port = free_port()
    config = dataclasses.replace(
        Config(),
        bridge=BridgeConfig(
            federation_pubkeys=tuple(k.bitcoin_public.hex() for k in keys), threshold=2
        ),
        relayer=RelayerConfig(
            peer_addresses=(keys[1].address,),
            peer_urls=("http://127.0.0.1:1",),
            signing_port=port,
        ),
    )
    async with AsyncExitStack() as resources:
        ctx = RelayerContext(
            config=config,
            keys=keys[0],
            sessions=ledger_sessions(sqlite_ledger(tmp_path)),
            bitcoin=BitcoinRPC("http://127.0.0.1:1"),
            node=NodeClient("http://127.0.0.1:1"),
            chain_id=5151,
            faults=Faults(None),
            resources=resources,
        )
        loops = await federation_loops(ctx)
        assert [loop.name for loop in loops] == [
            "withdrawals",
            "releases",
            "commitments",
            "addresses",
            "spends",
        ]
        assert all(isinstance(loop, Loop) for loop in loops)
        assert [loop.checkpoint() for loop in loops] == [None] * 5
        url = f"http://127.0.0.1:{port}{PEER_PATH}"
        stranger = MemberKeys(9, PrivateKey(), Account.create())
        async with aiohttp.ClientSession() as http:
            body = seal("attest.refund", {"withdrawal_id": "0x01"}, stranger)
            async with http.post(url, data=body) as response:
                assert response.status == 400
                assert "not a federation peer" in (await response.json())["body"]["reason"]
            body = seal("attest.refund", {"withdrawal_id": "0x" + "00" * 31 + "01"}, keys[1])
            async with http.post(url, data=body) as response:
                assert response.status == 409  # a peer, but nothing to refund here
            async with http.post(url, data=b"{" + b" " * 1_000_001) as response:
                assert response.status == 400  # over the size limit: refused unread
        await ctx.bitcoin.close()
        await ctx.node.close()
