"""The async bitcoind client against a real bitcoind: auth, batching, errors, timeouts, restarts."""

import asyncio
import logging
from decimal import Decimal

import pytest

from bridge.bitcoin.errors import (
    BitcoinAuthError,
    BitcoinConnectionError,
    BitcoinRPCError,
    BitcoinTimeout,
)
from bridge.bitcoin.rpc import BitcoinRPC, RetryPolicy
from regtest.binaries import Binaries
from regtest.node import WALLET, BitcoindNode
from regtest.util import wait_until


def client(node: BitcoindNode, **kwargs) -> BitcoinRPC:
    return BitcoinRPC(node.rpc_url, user=node.rpc_user, password=node.rpc_password, **kwargs)


async def test_call_round_trips_to_bitcoind(bitcoind: BitcoindNode):
    async with client(bitcoind) as rpc:
        info = await rpc.call("getblockchaininfo")
        assert info["chain"] == "regtest"
        assert await rpc.call("getblockhash", info["blocks"]) == info["bestblockhash"]


async def test_batch_returns_results_in_request_order(bitcoind: BitcoindNode):
    height, _ = bitcoind.tip()
    async with client(bitcoind) as rpc:
        hashes = await rpc.batch([("getblockhash", [h]) for h in range(height, height - 5, -1)])
    assert hashes == [bitcoind.getblockhash(h) for h in range(height, height - 5, -1)]


async def test_batch_surfaces_a_failed_call_with_its_code(bitcoind: BitcoindNode):
    async with client(bitcoind) as rpc:
        with pytest.raises(BitcoinRPCError) as raised:
            await rpc.batch([("getblockcount", []), ("getblockhash", [10**6])])
    assert raised.value.code == -8
    assert raised.value.method == "getblockhash"


async def test_rpc_error_carries_code_and_message(bitcoind: BitcoindNode):
    async with client(bitcoind) as rpc:
        with pytest.raises(BitcoinRPCError) as raised:
            await rpc.call("getrawtransaction", "ff" * 32)
    assert raised.value.code == -5
    assert "No such mempool or blockchain transaction" in raised.value.message


async def test_unknown_method_is_code_minus_32601(bitcoind: BitcoindNode):
    async with client(bitcoind) as rpc:
        with pytest.raises(BitcoinRPCError) as raised:
            await rpc.call("nosuchmethod")
    assert raised.value.code == -32601


async def test_wallet_endpoint_sends_a_payment_that_confirms(bitcoind: BitcoindNode):
    address = bitcoind.new_address()
    async with client(bitcoind, wallet=WALLET) as rpc:
        txid = await rpc.call("sendtoaddress", address, "0.2")
        await rpc.call("generatetoaddress", 1, address)
        assert (await rpc.call("gettransaction", txid))["confirmations"] == 1


async def test_cookie_auth_works(bitcoind: BitcoindNode):
    async with BitcoinRPC(bitcoind.rpc_url, cookie_file=bitcoind.cookie_file) as rpc:
        assert await rpc.call("getblockcount") == bitcoind.getblockcount()


async def test_wrong_credentials_are_refused_clearly_without_leaking_them(
    bitcoind: BitcoindNode, caplog
):
    caplog.set_level(logging.DEBUG)
    rpc = BitcoinRPC(bitcoind.rpc_url, user="sluice", password="not-the-password-42")
    async with rpc:
        with pytest.raises(BitcoinAuthError) as raised:
            await rpc.call("getblockcount")
    assert "credentials refused" in str(raised.value)
    for text in (str(raised.value), repr(rpc), caplog.text):
        assert "not-the-password-42" not in text


def test_credentials_in_the_url_are_used_but_never_shown(bitcoind: BitcoindNode):
    url = f"http://{bitcoind.rpc_user}:{bitcoind.rpc_password}@127.0.0.1:{bitcoind.rpc_port}"
    rpc = BitcoinRPC(url)
    assert bitcoind.rpc_password not in repr(rpc)
    assert asyncio.run(_count_and_close(rpc)) == bitcoind.getblockcount()


async def _count_and_close(rpc: BitcoinRPC) -> int:
    async with rpc:
        return await rpc.call("getblockcount")


async def test_a_call_that_outlives_the_timeout_raises_bitcoin_timeout(bitcoind: BitcoindNode):
    async with client(bitcoind, timeout=0.3) as rpc:
        with pytest.raises(BitcoinTimeout):
            await rpc.call("waitfornewblock", 5000)


async def test_nothing_listening_is_a_connection_error_after_retries():
    rpc = BitcoinRPC("http://127.0.0.1:9", retry=RetryPolicy(attempts=2, first_delay=0.01))
    async with rpc:
        with pytest.raises(BitcoinConnectionError) as raised:
            await rpc.call("getblockcount")
    assert "connection refused" in str(raised.value)


async def test_a_payment_sent_while_bitcoind_restarts_waits_and_is_made_once(
    bitcoind: BitcoindNode, caplog
):
    """bitcoind is down when sendtoaddress is called: the connection is refused (nothing was
    sent), so the client retries until bitcoind is back, and the payment happens once."""
    caplog.set_level(logging.DEBUG, logger="bridge.bitcoin.rpc")
    address = bitcoind.new_address()
    async with client(bitcoind, wallet=WALLET, retry=RetryPolicy(40, max_delay=0.5)) as rpc:
        bitcoind.stop()
        payment = asyncio.create_task(rpc.call("sendtoaddress", address, "0.3"))
        await asyncio.to_thread(bitcoind.start)
        txid = await asyncio.wait_for(payment, 30)
    assert "connection refused" in caplog.text  # the call did wait for the restart
    assert bitcoind.getreceivedbyaddress(address, 0) == Decimal("0.3")
    assert txid in bitcoind.getrawmempool()


async def test_a_call_in_flight_when_bitcoind_crashes_is_sent_again_after_restart(
    bitcoind_binaries: Binaries, tmp_path
):
    """bitcoind dies (kill -9) while holding a waitforblockheight call: the connection drops
    after the request was sent; the call is safe to repeat, so the client sends it again once
    bitcoind is back and returns the block it was waiting for."""
    node = BitcoindNode(tmp_path / "crash", bitcoind_binaries, index=2)
    with node:
        height = node.getblockcount()
        async with client(node, retry=RetryPolicy(40, max_delay=0.5)) as rpc:
            waiting = asyncio.create_task(rpc.call("waitforblockheight", height + 1, 60_000))
            await asyncio.to_thread(wait_until, lambda: _running(node, "waitforblockheight"))
            node.kill()
            await asyncio.to_thread(node.start)
            (block,) = node.mine(1)
            assert await asyncio.wait_for(waiting, 30) == {"hash": block, "height": height + 1}


def _running(node: BitcoindNode, method: str) -> bool:
    return any(c["method"] == method for c in node.getrpcinfo()["active_commands"])


def test_bad_url_is_refused_up_front():
    with pytest.raises(BitcoinConnectionError) as raised:
        BitcoinRPC("127.0.0.1:18443")
    assert "http://host:port" in str(raised.value)
