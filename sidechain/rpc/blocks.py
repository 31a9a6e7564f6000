"""Block identifiers to block numbers: tags, numbers and hashes against the node's head."""

from eth_typing import Hash32

from sidechain.errors import UnknownBlock
from sidechain.node import Node
from sidechain.rpc.params import BlockId

# One producer and instant finality: "pending", "safe" and "finalized" are all the head.
_HEAD_TAGS = frozenset({"latest", "pending", "safe", "finalized"})


def resolve(node: Node, block: BlockId) -> int:
    """The block number `block` names; raises UnknownBlock for a hash or number we lack."""
    if isinstance(block, bytes):
        return node.block_by_hash(Hash32(block)).number
    if block == "earliest":
        return 0
    head = node.head().number
    if isinstance(block, str):
        assert block in _HEAD_TAGS, block  # params.block_id admits no other tag
        return head
    if block > head:
        raise UnknownBlock(block)
    return block
