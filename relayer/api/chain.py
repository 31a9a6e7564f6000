"""Clients for the chains behind the API: bitcoind (RPC) and the sidechain node (JSON-RPC/HTTP).

Every call is short and never retried: an API request must answer fast, and an unreachable
upstream becomes `UpstreamUnavailable` (503) or, in `/v1/status`, `reachable: false`. Tips are
cached for a moment so a burst of requests costs the upstreams one call.
"""

import itertools
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import aiohttp

from bridge.bitcoin.errors import BitcoinConnectionError, BitcoinError, BitcoinTimeout
from bridge.bitcoin.rpc import BitcoinRPC, RetryPolicy
from relayer.api.errors import UpstreamUnavailable
from sluice.config import ApiConfig, BitcoinConfig

UPSTREAM_TIMEOUT = 3.0
TIP_CACHE_SECONDS = 1.0
SATS_PER_BTC = 100_000_000
BITCOIND = "bitcoind"
NODE = "sidechain node"


class NodeClient:
    """Ethereum JSON-RPC over HTTP to the sidechain node (never the node in-process)."""

    def __init__(self, url: str, session: aiohttp.ClientSession) -> None:
        self.url = url
        self._session = session
        self._ids = itertools.count(1)

    async def call(self, method: str, *params: Any) -> Any:
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        try:
            async with self._session.post(self.url, json=body) as response:
                reply = await response.json(content_type=None)
        except TimeoutError:
            raise UpstreamUnavailable(NODE, f"no answer within {UPSTREAM_TIMEOUT}s") from None
        except aiohttp.ClientConnectionError:
            raise UpstreamUnavailable(NODE, "connection refused or lost") from None
        except (aiohttp.ClientError, ValueError) as error:
            raise UpstreamUnavailable(NODE, f"bad answer ({type(error).__name__})") from None
        if not isinstance(reply, dict) or "result" not in reply:
            raise UpstreamUnavailable(NODE, f"{method} answered with an error")
        return reply["result"]


class _Cached:
    """One value fetched at most every `ttl` seconds."""

    def __init__(self, fetch: Callable[[], Awaitable[int]], ttl: float) -> None:
        self._fetch = fetch
        self._ttl = ttl
        self._value: int | None = None
        self._at = 0.0

    async def get(self) -> int:
        now = time.monotonic()
        if self._value is None or now - self._at > self._ttl:
            self._value = await self._fetch()
            self._at = now
        return self._value


class ChainClients:
    """bitcoind and the node, as the API needs them: tips, chain id, fee estimate."""

    def __init__(self, bitcoin: BitcoinConfig, api: ApiConfig) -> None:
        timeout = min(bitcoin.rpc_timeout, UPSTREAM_TIMEOUT)
        self._bitcoin = BitcoinRPC(
            bitcoin.rpc_url,
            user=bitcoin.rpc_user,
            password=bitcoin.rpc_password,
            cookie_file=bitcoin.rpc_cookie_file,
            timeout=timeout,
            retry=RetryPolicy(attempts=1),
        )
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=UPSTREAM_TIMEOUT))
        self.node = NodeClient(api.node_rpc_url, self._http)
        self._bitcoin_tip = _Cached(self._fetch_bitcoin_tip, TIP_CACHE_SECONDS)
        self._sidechain_head = _Cached(self._fetch_sidechain_head, TIP_CACHE_SECONDS)

    async def close(self) -> None:
        await self._bitcoin.close()
        await self._http.close()

    async def bitcoin(self, method: str, *params: Any) -> Any:
        try:
            return await self._bitcoin.call(method, *params)
        except BitcoinTimeout:
            raise UpstreamUnavailable(BITCOIND, f"no answer within {UPSTREAM_TIMEOUT}s") from None
        except BitcoinConnectionError:
            raise UpstreamUnavailable(BITCOIND, "connection refused or lost") from None
        except BitcoinError as error:
            raise UpstreamUnavailable(
                BITCOIND, f"{method} failed ({type(error).__name__})"
            ) from None

    async def bitcoin_tip(self) -> int:
        return await self._bitcoin_tip.get()

    async def sidechain_head(self) -> int:
        return await self._sidechain_head.get()

    async def bitcoin_tip_or_none(self) -> int | None:
        try:
            return await self.bitcoin_tip()
        except UpstreamUnavailable:
            return None

    async def sidechain_head_or_none(self) -> int | None:
        try:
            return await self.sidechain_head()
        except UpstreamUnavailable:
            return None

    async def chain_id(self) -> int:
        return int(await self.node.call("eth_chainId"), 16)

    async def fee_estimate(self, target_blocks: int) -> int | None:
        """bitcoind's fee rate for confirmation within `target_blocks`, in sat per 1000 vbytes
        (None when it has too little data, as on a fresh regtest chain)."""
        estimate = await self.bitcoin("estimatesmartfee", target_blocks)
        rate = estimate.get("feerate") if isinstance(estimate, dict) else None
        if rate is None:
            return None
        return int(Decimal(str(rate)) * SATS_PER_BTC)

    async def _fetch_bitcoin_tip(self) -> int:
        return int(await self.bitcoin("getblockcount"))

    async def _fetch_sidechain_head(self) -> int:
        return int(await self.node.call("eth_blockNumber"), 16)
