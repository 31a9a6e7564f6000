"""Assembles the node's JSON-RPC application and serves it until asked to stop."""

import asyncio
import inspect
import logging
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from sidechain.node import Node
from sidechain.rpc.debug import DebugMethods
from sidechain.rpc.deposits import DepositMethods
from sidechain.rpc.errors import CannotListen
from sidechain.rpc.eth import EthMethods
from sidechain.rpc.filters import FilterMethods, FilterRegistry
from sidechain.rpc.logs import DEFAULT_MAX_BLOCK_RANGE, LogReader
from sidechain.rpc.params import Params
from sidechain.rpc.server import AnyHandler, Handler, Limits, MethodTable, make_app

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RpcSettings:
    """Where the server listens and what one request may ask for."""

    host: str = "127.0.0.1"
    port: int = 8545
    limits: Limits = field(default_factory=Limits)
    max_log_block_range: int = DEFAULT_MAX_BLOCK_RANGE


def method_table(node: Node, settings: RpcSettings) -> MethodTable:
    logs = LogReader(node, settings.max_log_block_range)
    methods = {
        **EthMethods(node, logs).table(),
        **FilterMethods(node, logs, FilterRegistry()).table(),
        **DepositMethods(node).table(),
        **DebugMethods(node).table(),
    }
    return {name: _served(node, handler) for name, handler in methods.items()}


def _served(node: Node, handler: AnyHandler) -> Handler:
    """Async handlers answer on the event loop; blocking ones (chain work) run in the node's
    worker thread, one at a time, so a long eth_getLogs or block holds up no cheap call."""
    if inspect.iscoroutinefunction(handler):
        return handler

    async def on_worker(params: Params) -> Any:
        return await node.run(handler, params)

    return on_worker


def build_app(node: Node, settings: RpcSettings) -> web.Application:
    return make_app(method_table(node, settings), settings.limits)


async def serve(node: Node, settings: RpcSettings, stop: asyncio.Event) -> None:
    """Produce blocks and answer JSON-RPC until `stop` is set; then stop both cleanly.

    The server closes first, so no request reaches a node that is shutting down.
    """
    runner = web.AppRunner(build_app(node, settings), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port)
        try:
            await site.start()
        except OSError as error:
            raise CannotListen(
                settings.host, settings.port, error.strerror or str(error)
            ) from error
        await node.start()
        log.info(
            "JSON-RPC on http://%s:%d (chain id %d, head %d)",
            settings.host,
            settings.port,
            node.chain_id,
            node.head().number,
        )
        await stop.wait()
        log.info("stopping")
    finally:
        await runner.cleanup()
        await node.stop()
