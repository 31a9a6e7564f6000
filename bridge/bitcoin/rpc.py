"""Async JSON-RPC client for bitcoind: auth, batching, timeouts, typed errors, retry on restart.

Retries: a call whose connection was refused (bitcoind down or restarting) never reached
bitcoind, so it is retried with backoff whatever it is; so is a call answered "warming up"
(-28). A connection that drops after the request was sent is different: bitcoind may have run
the call. Only calls that are safe to run twice (`repeatable`) are then sent again; any other
(sendtoaddress, walletcreatefundedpsbt, generatetoaddress...) raises `BitcoinRequestLost`.
"""

import asyncio
import itertools
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from bridge.bitcoin.errors import (
    BitcoinAuthError,
    BitcoinBadReply,
    BitcoinConnectionError,
    BitcoinRequestLost,
    BitcoinTimeout,
    BitcoinWarmingUp,
    rpc_error,
)
from sluice.config import BitcoinConfig

log = logging.getLogger(__name__)

# Calls that change nothing, or whose second run changes nothing more: reads, waits, and the
# broadcast of an already signed transaction (sent twice it is still one transaction).
_REPEATABLE_PREFIXES = ("get", "list", "decode", "estimate", "waitfor")
_REPEATABLE = frozenset(
    {"sendrawtransaction", "testmempoolaccept", "validateaddress", "deriveaddresses", "uptime"}
)


def repeatable(method: str) -> bool:
    """Whether running `method` twice does no more than running it once."""
    return method in _REPEATABLE or method.startswith(_REPEATABLE_PREFIXES)


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep retrying while bitcoind is down or warming up (it may be restarting)."""

    attempts: int = 8
    first_delay: float = 0.1
    max_delay: float = 2.0

    def delays(self) -> list[float]:
        return [min(self.first_delay * 2**n, self.max_delay) for n in range(self.attempts - 1)]


class BitcoinRPC:
    """One bitcoind endpoint. Credentials come from `user`/`password` or a cookie file.

    The cookie file is read at each connection attempt, so a restarted bitcoind (new cookie)
    is picked up. Credentials are never part of a log line, an error or `repr`.
    """

    def __init__(
        self,
        url: str,
        *,
        user: str | None = None,
        password: str | None = None,
        cookie_file: Path | None = None,
        wallet: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BitcoinConnectionError(
                _redact(url), "RPC URL must look like http://host:port[/wallet/NAME]"
            )
        self.url = _redact(url) + (f"/wallet/{wallet}" if wallet else "")
        self._user = user if user is not None else parts.username
        self._password = password if password is not None else parts.password
        self._cookie_file = cookie_file
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._retry = retry or RetryPolicy()
        self._ids = itertools.count(1)
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_config(cls, config: BitcoinConfig, wallet: str | None = None) -> Self:
        return cls(
            config.rpc_url,
            user=config.rpc_user,
            password=config.rpc_password,
            cookie_file=config.rpc_cookie_file,
            wallet=wallet,
            timeout=config.rpc_timeout,
        )

    def __repr__(self) -> str:
        return f"BitcoinRPC({self.url!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def call(self, method: str, *params: Any) -> Any:
        """Run one RPC; raises `BitcoinRPCError` (with bitcoind's code) if bitcoind refuses it."""
        request = {"jsonrpc": "1.0", "id": next(self._ids), "method": method, "params": params}
        reply = await self._post(request, method, repeatable(method))
        if not isinstance(reply, dict):
            raise BitcoinBadReply(self.url, f"{method}: reply is not a JSON-RPC object")
        return _result(reply, method)

    async def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Run several RPCs in one HTTP request; results come back in the order of `calls`.

        If any call fails, its typed error is raised (the others may still have run). A batch
        is sent again after a dropped connection only if every call in it is repeatable.
        """
        if not calls:
            return []
        first_id = next(self._ids)
        self._ids = itertools.count(first_id + len(calls))
        requests = [
            {"jsonrpc": "1.0", "id": first_id + n, "method": method, "params": list(params)}
            for n, (method, params) in enumerate(calls)
        ]
        what = f"batch of {len(calls)}"
        safe = all(repeatable(method) for method, _ in calls)
        replies = await self._post(requests, what, safe)
        if not isinstance(replies, list) or len(replies) != len(calls):
            raise BitcoinBadReply(self.url, f"{what}: reply is not a list of {len(calls)} replies")
        by_id = {reply.get("id"): reply for reply in replies if isinstance(reply, dict)}
        results = []
        for n, (method, _) in enumerate(calls):
            reply = by_id.get(first_id + n)
            if reply is None:
                raise BitcoinBadReply(
                    self.url, f"{what}: no reply with id {first_id + n} (the {method} call)"
                )
            results.append(_result(reply, method))
        return results

    async def _post(self, body: Any, what: str, safe_to_repeat: bool) -> Any:
        """POST with retries while bitcoind refuses connections or is warming up, and, for a
        call safe to repeat, after a connection lost mid-call."""
        for delay in [*self._retry.delays(), None]:
            try:
                reply = await self._post_once(body, what)
                if isinstance(reply, dict):
                    _result(reply, what)  # raises BitcoinWarmingUp during warm-up
                return reply
            except _Lost as error:
                if not safe_to_repeat:
                    raise BitcoinRequestLost(self.url, what, str(error)) from error
                if delay is None:
                    raise BitcoinConnectionError(self.url, f"{what}: {error}") from error
                log.debug("%s to %s: %s; sending it again in %.1fs", what, self.url, error, delay)
                await asyncio.sleep(delay)
            except (_Refused, BitcoinWarmingUp) as error:
                if delay is None:
                    if isinstance(error, _Refused):
                        raise BitcoinConnectionError(self.url, str(error)) from error
                    raise
                log.debug(
                    "bitcoind at %s not ready (%s); retrying in %.1fs", self.url, error, delay
                )
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _post_once(self, body: Any, what: str) -> Any:
        session = self._session_for_call()
        try:
            async with session.post(self.url, json=body, headers=self._headers()) as response:
                if response.status == 401:
                    raise BitcoinAuthError(self.url, "credentials refused (HTTP 401)")
                text = await response.text()
        except TimeoutError as error:
            raise BitcoinTimeout(
                self.url, f"{what}: no answer within {self._timeout.total}s"
            ) from error
        except aiohttp.ClientConnectorError as error:  # no connection: nothing was sent
            raise _Refused(f"connection refused ({error.os_error.strerror})") from error
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as error:
            raise _Lost(f"connection lost: {type(error).__name__}") from error
        except aiohttp.ClientError as error:
            raise BitcoinConnectionError(self.url, f"{what}: {type(error).__name__}") from error
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise BitcoinBadReply(
                self.url, f"{what}: HTTP {response.status}, body is not JSON: {text[:200]!r}"
            ) from error

    def _session_for_call(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    def _headers(self) -> dict[str, str]:
        if self._cookie_file is not None:
            try:
                user, _, password = self._cookie_file.read_text().strip().partition(":")
            except OSError as error:
                raise _Refused(f"cookie file {self._cookie_file} unreadable") from error
            return {"Authorization": aiohttp.encode_basic_auth(user, password)}
        if self._user is not None:
            return {"Authorization": aiohttp.encode_basic_auth(self._user, self._password or "")}
        return {}


class _Refused(Exception):
    """Internal: bitcoind is not accepting connections (yet); nothing was sent, worth a retry."""


class _Lost(Exception):
    """Internal: the connection broke after the request was sent; bitcoind may have run it."""


def _result(reply: dict[str, Any], method: str) -> Any:
    error = reply.get("error")
    if error:
        raise rpc_error(int(error.get("code", 0)), str(error.get("message", "")), method)
    return reply.get("result")


def _redact(url: str) -> str:
    """The URL without any user:password part, so it is safe to show."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
