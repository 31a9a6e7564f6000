"""Roots of the transactions and receipts tries, built in one pass over the sorted keys.

py-evm's `make_trie_root_and_nodes` inserts item by item into a node database (about 2 ms per
item here, more than executing a transfer); a block's list tries are only ever needed as a root,
so this builds each node once, bottom-up. `tests/sidechain/test_trie_root.py` checks it against
py-evm's function.
"""

from collections.abc import Sequence

import rlp
from eth.constants import BLANK_ROOT_HASH
from eth_typing import Hash32
from eth_utils import keccak

_Node = list[object] | bytes


def _nibbles(key: bytes) -> tuple[int, ...]:
    return tuple(n for byte in key for n in (byte >> 4, byte & 0x0F))


def _compact(nibbles: tuple[int, ...], leaf: bool) -> bytes:
    """Hex-prefix encoding (Yellow Paper appendix C)."""
    flag = 2 if leaf else 0
    prefixed = (flag + 1, *nibbles) if len(nibbles) % 2 else (flag, 0, *nibbles)
    return bytes(prefixed[i] << 4 | prefixed[i + 1] for i in range(0, len(prefixed), 2))


def _reference(node: list[object]) -> object:
    """How a parent refers to a child: inline if its encoding is shorter than 32 bytes."""
    encoded = rlp.encode(node)
    return node if len(encoded) < 32 else keccak(encoded)


def _build(pairs: Sequence[tuple[tuple[int, ...], bytes]], depth: int) -> list[object]:
    if len(pairs) == 1:
        key, value = pairs[0]
        return [_compact(key[depth:], leaf=True), value]
    first, last = pairs[0][0], pairs[-1][0]
    common = depth
    while common < len(first) and common < len(last) and first[common] == last[common]:
        common += 1
    if common > depth:
        child = _build(pairs, common)
        return [_compact(first[depth:common], leaf=False), _reference(child)]
    branch: list[object] = [b""] * 17
    start = 0
    if len(first) == depth:  # a key ends here: its value sits in the branch
        branch[16] = pairs[0][1]
        start = 1
    while start < len(pairs):
        nibble = pairs[start][0][depth]
        end = start
        while end < len(pairs) and pairs[end][0][depth] == nibble:
            end += 1
        branch[nibble] = _reference(_build(pairs[start:end], depth + 1))
        start = end
    return branch


def ordered_trie_root(items: Sequence[bytes]) -> Hash32:
    """The root of the trie mapping rlp(index) to `items[index]` (transactions, receipts)."""
    if not items:
        return BLANK_ROOT_HASH
    pairs = sorted((_nibbles(rlp.encode(index)), item) for index, item in enumerate(items))
    return Hash32(keccak(rlp.encode(_build(pairs, 0))))
