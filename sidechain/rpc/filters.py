"""Polling filters (eth_newFilter, eth_newBlockFilter): what each client has already seen."""

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from sidechain.node import Node
from sidechain.rpc import serialize
from sidechain.rpc.errors import LimitExceeded, ServerError
from sidechain.rpc.logs import LogReader
from sidechain.rpc.params import LogQuery, Params, ValueInvalid, log_query
from sidechain.rpc.server import AnyHandler


@dataclass(frozen=True)
class Filter:
    """A log filter (query set) or a block filter (query None); `next_block` is not yet seen."""

    query: LogQuery | None
    next_block: int
    last_polled: float


class FilterNotFound(ServerError):
    def __init__(self, filter_id: str) -> None:
        super().__init__("filter not found", None)
        self.filter_id = filter_id


class FilterRegistry:
    """Installed filters, dropped after `timeout` seconds without a poll (geth: 5 minutes)."""

    def __init__(
        self,
        timeout: float = 300.0,
        max_filters: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._filters: dict[str, Filter] = {}
        self._timeout = timeout
        self._max_filters = max_filters
        self._clock = clock

    def install(self, query: LogQuery | None, next_block: int) -> str:
        self._expire()
        if len(self._filters) >= self._max_filters:
            raise LimitExceeded(f"too many filters installed (limit {self._max_filters})")
        filter_id = "0x" + secrets.token_hex(16)
        self._filters[filter_id] = Filter(query, next_block, self._clock())
        return filter_id

    def get(self, filter_id: str) -> Filter:
        self._expire()
        found = self._filters.get(filter_id)
        if found is None:
            raise FilterNotFound(filter_id)
        return found

    def advance(self, filter_id: str, next_block: int) -> None:
        """Record that the client has seen every block below `next_block`."""
        found = self.get(filter_id)
        self._filters[filter_id] = replace(found, next_block=next_block, last_polled=self._clock())

    def uninstall(self, filter_id: str) -> bool:
        self._expire()
        return self._filters.pop(filter_id, None) is not None

    def _expire(self) -> None:
        deadline = self._clock() - self._timeout
        for filter_id in [f for f, found in self._filters.items() if found.last_polled < deadline]:
            del self._filters[filter_id]


class FilterMethods:
    """eth_newFilter, eth_newBlockFilter, eth_getFilterChanges, eth_getFilterLogs,
    eth_uninstallFilter: polling over the node's blocks, as web3.py's `w3.eth.filter` uses."""

    def __init__(self, node: Node, logs: LogReader, registry: FilterRegistry) -> None:
        self._node = node
        self._logs = logs
        self._registry = registry

    def table(self) -> dict[str, AnyHandler]:
        return {
            "eth_newFilter": self.new_filter,
            "eth_newBlockFilter": self.new_block_filter,
            "eth_getFilterChanges": self.get_filter_changes,
            "eth_getFilterLogs": self.get_filter_logs,
            "eth_uninstallFilter": self.uninstall_filter,
        }

    def new_filter(self, params: Params) -> str:
        params.expect(1)
        query = params.get(0, log_query)
        self._logs.range_of(query)  # refuse an unknown block hash or an inverted range now
        return self._registry.install(query, self._node.head().number + 1)

    def new_block_filter(self, params: Params) -> str:
        params.expect(0)
        return self._registry.install(None, self._node.head().number + 1)

    def get_filter_changes(self, params: Params) -> list[Any]:
        params.expect(1)
        filter_id = params.get(0, _filter_id)
        found = self._registry.get(filter_id)
        head = self._node.head().number
        if found.query is None:
            self._registry.advance(filter_id, head + 1)
            return [
                serialize.data(self._node.block_by_number(number).hash)
                for number in range(found.next_block, head + 1)
            ]
        first, last = self._changes_range(found, head)
        # A client far behind catches up over several polls, each within the range limit.
        last = min(last, first + self._logs.max_block_range - 1)
        logs = self._logs.read(found.query, first, last)
        self._registry.advance(filter_id, max(found.next_block, last + 1))
        return [serialize.log(entry) for entry in logs]

    def _changes_range(self, found: Filter, head: int) -> tuple[int, int]:
        """Blocks not yet seen that the query covers; a tag bound means "as the chain grows"."""
        query = found.query
        assert query is not None
        if query.block_hash is not None:
            first, last = self._logs.range_of(query)
            return max(first, found.next_block), last
        first = found.next_block
        if isinstance(query.from_block, int):
            first = max(first, query.from_block)
        last = head if isinstance(query.to_block, str) else min(query.to_block, head)
        return first, last

    def get_filter_logs(self, params: Params) -> list[dict[str, Any]]:
        params.expect(1)
        found = self._registry.get(params.get(0, _filter_id))
        if found.query is None:
            raise FilterNotFound(params.get(0, _filter_id))
        first, last = self._logs.range_of(found.query)
        return [serialize.log(entry) for entry in self._logs.read(found.query, first, last)]

    def uninstall_filter(self, params: Params) -> bool:
        params.expect(1)
        return self._registry.uninstall(params.get(0, _filter_id))


def _filter_id(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("0x") or len(value) > 66:
        raise ValueInvalid(f"filter id must be a 0x-prefixed hex string, got {value!r}")
    return value.lower()
