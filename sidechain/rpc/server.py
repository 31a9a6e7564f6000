"""The JSON-RPC 2.0 HTTP endpoint: framing, batches, size limits and error responses."""

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sidechain.errors import SidechainError
from sidechain.rpc.errors import (
    InternalError,
    InvalidParams,
    InvalidRequest,
    MethodNotFound,
    ParseError,
    RpcError,
    from_node_error,
)
from sidechain.rpc.params import Params

log = logging.getLogger(__name__)

Handler = Callable[[Params], Awaitable[Any]]
# A method's implementation: async (answers on the event loop) or blocking (chain work, run
# in the node's worker thread: see `sidechain.rpc.app.method_table`).
AnyHandler = Handler | Callable[[Params], Any]
MethodTable = Mapping[str, Handler]


@dataclass(frozen=True)
class Limits:
    """What one HTTP request may carry; every network input has a size limit."""

    max_body_bytes: int = 5 * 1024 * 1024
    max_batch_size: int = 1000
    max_json_depth: int = 64


class Dispatcher:
    """Turns a decoded JSON-RPC message (one request or a batch) into the response to send."""

    def __init__(self, methods: MethodTable, limits: Limits) -> None:
        self._methods = methods
        self._limits = limits

    async def handle_body(self, body: bytes) -> Any:
        """The response document for `body`, or None when it held only notifications."""
        try:
            _check_depth(body, self._limits.max_json_depth)
            message = json.loads(body)
        except ValueError as error:  # bad UTF-8 or JSON, nested too deep, an int too long
            return _error_response(None, ParseError(f"parse error: {error}"))
        if not isinstance(message, list):
            return await self.handle_one(message)
        if not message:
            return _error_response(None, InvalidRequest("empty batch"))
        if len(message) > self._limits.max_batch_size:
            return _error_response(
                None,
                InvalidRequest(
                    f"batch of {len(message)} requests is over the limit of "
                    f"{self._limits.max_batch_size}"
                ),
            )
        # All at once: the batch's chain work is queued for the node's worker thread in request
        # order, ahead of a block the first transaction may trigger, so one batch of
        # transactions lands in one block instead of one block each.
        responses = await asyncio.gather(*(self.handle_one(request) for request in message))
        answered = [response for response in responses if response is not None]
        return answered or None

    async def handle_one(self, request: Any) -> dict[str, Any] | None:
        if not isinstance(request, dict):
            return _error_response(None, InvalidRequest("request must be a JSON object"))
        request_id = request.get("id")
        try:
            method, params = _validate(request)
        except RpcError as error:
            return _error_response(request_id if _valid_id(request_id) else None, error)
        result = await self._call(method, params)
        if "id" not in request:
            return None
        if isinstance(result, RpcError):
            return _error_response(request_id, result)
        return {"jsonrpc": "2.0", "id": request_id, "result": result}

    async def _call(self, method: str, params: list[Any]) -> Any:
        handler = self._methods.get(method)
        if handler is None:
            return MethodNotFound(method)
        try:
            return await handler(Params(params))
        except RpcError as error:
            return error
        except SidechainError as error:
            return from_node_error(error)
        except Exception:
            log.exception("JSON-RPC method %s failed", method)
            return InternalError(f"internal error while running {method}")


_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def _check_depth(body: bytes, limit: int) -> None:
    """Refuse JSON nested deeper than `limit` before parsing it.

    py-evm raises Python's recursion limit to 100,000, so the C JSON parser would overflow the
    stack (a segfault, not an exception) on a body of a few hundred KB of brackets.
    """
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    if brackets.count(b"[") + brackets.count(b"{") <= limit:
        return
    depth = 0
    for byte in brackets:
        depth += 1 if byte in b"[{" else -1
        if depth > limit:
            raise ValueError(f"JSON nested deeper than {limit} levels")


def _valid_id(request_id: Any) -> bool:
    return request_id is None or (
        isinstance(request_id, str | int | float) and not isinstance(request_id, bool)
    )


def _validate(request: dict[str, Any]) -> tuple[str, list[Any]]:
    if request.get("jsonrpc") != "2.0":
        raise InvalidRequest(f'jsonrpc must be "2.0", got {request.get("jsonrpc")!r}')
    if not _valid_id(request.get("id")):
        raise InvalidRequest(f"id must be a string, a number or null, got {request['id']!r}")
    method = request.get("method")
    if not isinstance(method, str) or not method:
        raise InvalidRequest(f"method must be a non-empty string, got {method!r}")
    params = request.get("params", [])
    if isinstance(params, dict):
        # Valid JSON-RPC, but no Ethereum method takes named parameters.
        raise InvalidParams("named parameters are not supported: pass params as an array")
    if not isinstance(params, list):
        raise InvalidRequest(f"params must be an array, got {params!r}")
    return method, params


def _error_response(request_id: Any, error: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": error.to_json()}


def _json_response(document: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(document, separators=(",", ":")).encode(),
        status=status,
        content_type="application/json",
    )


def make_app(methods: MethodTable, limits: Limits | None = None) -> web.Application:
    """An aiohttp application answering JSON-RPC POSTs on `/`."""
    limits = limits or Limits()
    dispatcher = Dispatcher(methods, limits)

    async def handle(request: web.Request) -> web.Response:
        if request.content_length is not None and request.content_length > limits.max_body_bytes:
            return _too_large(request.content_length, limits)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _too_large(None, limits)
        document = await dispatcher.handle_body(body)
        if document is None:
            return web.Response(status=200)
        return _json_response(document)

    app = web.Application(client_max_size=limits.max_body_bytes)
    app.router.add_post("/", handle)
    return app


def _too_large(size: int | None, limits: Limits) -> web.Response:
    shown = "request body" if size is None else f"request body of {size} bytes"
    error = InvalidRequest(f"{shown} is over the limit of {limits.max_body_bytes} bytes")
    return _json_response(_error_response(None, error), status=413)
