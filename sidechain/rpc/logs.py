"""Log queries: resolve a client's criteria to a block range, enforce the range limit, fetch."""

from eth_typing import Address, Hash32

from sidechain.node import Node
from sidechain.rpc import blocks
from sidechain.rpc.errors import InvalidParams, LimitExceeded
from sidechain.rpc.params import LogQuery
from sidechain.views import LogFilter, LogView

DEFAULT_MAX_BLOCK_RANGE = 10_000


class LogReader:
    """Runs eth_getLogs-style queries over at most `max_block_range` blocks at once."""

    def __init__(self, node: Node, max_block_range: int = DEFAULT_MAX_BLOCK_RANGE) -> None:
        self._node = node
        self.max_block_range = max_block_range

    def range_of(self, query: LogQuery) -> tuple[int, int]:
        """The inclusive block range `query` covers now (a block hash is a range of one)."""
        if query.block_hash is not None:
            number = blocks.resolve(self._node, query.block_hash)
            return number, number
        if (
            isinstance(query.from_block, int)
            and isinstance(query.to_block, int)
            and query.from_block > query.to_block
        ):
            raise InvalidParams(
                f"invalid block range: fromBlock {query.from_block} > toBlock {query.to_block}"
            )
        head = self._node.head().number
        # Numbers past the head: the range starts there (empty) or stops at the head, as geth.
        first = (
            query.from_block
            if isinstance(query.from_block, int)
            else blocks.resolve(self._node, query.from_block)
        )
        last = (
            min(query.to_block, head)
            if isinstance(query.to_block, int)
            else blocks.resolve(self._node, query.to_block)
        )
        return first, last

    def read(self, query: LogQuery, first: int, last: int) -> list[LogView]:
        """Logs matching `query` in blocks first..last (none if first > last); refuses a range
        over the limit."""
        if first > last:
            return []
        if last - first + 1 > self.max_block_range:
            raise LimitExceeded(
                f"block range of {last - first + 1} blocks ({first}..{last}) is over the limit "
                f"of {self.max_block_range}"
            )
        return self._node.logs(
            LogFilter(
                from_block=first,
                to_block=last,
                addresses=tuple(Address(a) for a in query.addresses),
                topics=tuple(
                    None if alternatives is None else tuple(Hash32(t) for t in alternatives)
                    for alternatives in query.topics
                ),
            )
        )
