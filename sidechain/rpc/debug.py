"""The debug_ methods a follower needs: raw blocks to re-execute (deposit transactions included,
which eth_getBlockByNumber shows only as JSON fields, not as what the executor takes)."""

from sidechain.node import Node
from sidechain.rpc import blocks, serialize
from sidechain.rpc.params import Params, block_id
from sidechain.rpc.server import AnyHandler


class DebugMethods:
    def __init__(self, node: Node) -> None:
        self._node = node

    def table(self) -> dict[str, AnyHandler]:
        return {"debug_getRawBlock": self.get_raw_block}

    def get_raw_block(self, params: Params) -> str:
        """debug_getRawBlock(block): the block's RLP (as geth); an unknown block is an error."""
        params.expect(1)
        number = blocks.resolve(self._node, params.get(0, block_id))
        return serialize.data(serialize.raw_block(self._node.block_by_number(number)))
