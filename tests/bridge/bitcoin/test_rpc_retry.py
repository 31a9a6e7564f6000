"""When the client sends a call again: never a call that may have run, unless it is safe.

A small HTTP server on loopback stands in for bitcoind (a unit test of the client alone): it
counts the requests that reach it and drops the connection after reading the first ones, as a
bitcoind that crashes mid-call would.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from bridge.bitcoin.errors import BitcoinBadReply, BitcoinRequestLost
from bridge.bitcoin.rpc import BitcoinRPC, RetryPolicy, repeatable

FAST = RetryPolicy(attempts=4, first_delay=0.01)


@dataclass
class FlakyBitcoind:
    """Reads each request, then drops the first `drops` connections without answering; later
    requests get `answer(request)` as the JSON reply body."""

    drops: int = 0
    received: list[Any] = field(default_factory=list)
    answer: Any = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        request = json.loads(await reader.readexactly(length))
        self.received.append(request)
        if len(self.received) > self.drops:
            body = json.dumps(self.answer(request)).encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        writer.close()


@pytest.fixture
async def flaky() -> AsyncIterator[tuple[FlakyBitcoind, BitcoinRPC]]:
    fake = FlakyBitcoind(answer=lambda request: {"result": 7, "error": None, "id": request["id"]})
    server = await asyncio.start_server(fake.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, BitcoinRPC(f"http://127.0.0.1:{port}", retry=FAST) as rpc:
        yield fake, rpc


async def test_a_read_lost_in_flight_is_sent_again(flaky):
    fake, rpc = flaky
    fake.drops = 1
    assert await rpc.call("getblockcount") == 7
    assert [r["method"] for r in fake.received] == ["getblockcount", "getblockcount"]


async def test_a_payment_lost_in_flight_is_not_sent_again(flaky):
    fake, rpc = flaky
    fake.drops = 1
    with pytest.raises(BitcoinRequestLost) as raised:
        await rpc.call("sendtoaddress", "bcrt1qexample", "0.1")
    assert raised.value.method == "sendtoaddress"
    assert "may have run" in str(raised.value)
    assert len(fake.received) == 1


async def test_a_batch_is_sent_again_only_if_every_call_in_it_is_safe(flaky):
    fake, rpc = flaky
    fake.answer = lambda batch: [{"result": 7, "error": None, "id": r["id"]} for r in batch]
    fake.drops = 1
    assert await rpc.batch([("getblockcount", []), ("getbestblockhash", [])]) == [7, 7]
    assert len(fake.received) == 2
    fake.drops = 3
    with pytest.raises(BitcoinRequestLost):
        await rpc.batch([("getblockcount", []), ("generatetoaddress", [1, "bcrt1q"])])
    assert len(fake.received) == 3


async def test_a_batch_reply_with_unknown_ids_is_a_bad_reply(flaky):
    fake, rpc = flaky
    fake.answer = lambda batch: [{"result": 1, "error": None, "id": 999} for _ in batch]
    with pytest.raises(BitcoinBadReply) as raised:
        await rpc.batch([("getblockcount", []), ("getbestblockhash", [])])
    assert "no reply with id" in str(raised.value) and "getblockcount" in str(raised.value)


async def test_a_reply_that_is_not_json_rpc_is_a_bad_reply(flaky):
    fake, rpc = flaky
    fake.answer = lambda request: [1, 2]
    with pytest.raises(BitcoinBadReply):
        await rpc.call("getblockcount")


@pytest.mark.parametrize(
    ("method", "safe"),
    [
        ("getblockcount", True),
        ("listunspent", True),
        ("waitforblockheight", True),
        ("sendrawtransaction", True),  # the same signed transaction twice is one transaction
        ("sendtoaddress", False),
        ("walletcreatefundedpsbt", False),
        ("generatetoaddress", False),
        ("createwallet", False),
    ],
)
def test_which_calls_are_safe_to_repeat(method, safe):
    assert repeatable(method) is safe
