"""Batch inserts and updates of a hexary Patricia trie with fixed-length keys, each node built once.

py-trie's `HexaryTrie` re-encodes and re-hashes the whole path to the root for every key it
sets (about 40k node encodings for 8k dirty keys of a 2,000-transaction block); a block's
changes are known at once, so this walks the trie once per batch and hashes each dirty node
once. Deletions can collapse branches and are left to `HexaryTrie` (see `state_root`).
Paths are hex strings, one character per nibble. A value may be a `Merge`: called with the
key's old value (None for a new key) where the walk meets its leaf, so updating an account
needs no separate lookup of the account it replaces.
"""

from collections.abc import Callable, Iterable, MutableMapping, Sequence
from typing import Any

import rlp
from eth.constants import BLANK_ROOT_HASH
from eth_typing import Hash32
from eth_utils import keccak

Node = list[Any]
Ref = bytes | Node  # a node's hash, or the node itself when its encoding is under 32 bytes
Merge = Callable[[bytes | None], bytes]  # old value (None: new key) -> new non-empty value
Value = bytes | Merge
_Entry = tuple[str, bool, Any]  # (hex path, is a subtree, leaf value or decoded subtree node)


def _path(pair: tuple[str, Value]) -> str:
    return pair[0]


def _value(value: Value, old: bytes | None) -> bytes:
    if isinstance(value, bytes):
        return value
    merged = value(old)
    if not merged:
        raise ValueError("a Merge must not delete its key: deletions go through HexaryTrie")
    return merged


def _compact(path: str, leaf: bool) -> bytes:
    """Hex-prefix encoding of a nibble path (Yellow Paper appendix C)."""
    flag = 2 if leaf else 0
    if len(path) % 2:
        return bytes.fromhex(f"{flag + 1:x}{path}")
    return bytes.fromhex(f"{flag:x}0{path}")


def _uncompact(encoded: bytes) -> tuple[str, bool]:
    text = encoded.hex()
    return (text[1:] if text[0] in "13" else text[2:]), text[0] in "23"


def _runs(paths: Sequence[str]) -> Iterable[tuple[int, int, int]]:
    """(first nibble, start, end) of each run of paths sharing their first nibble."""
    start = 0
    while start < len(paths):
        nibble = paths[start][0]
        end = start + 1
        while end < len(paths) and paths[end][0] == nibble:
            end += 1
        yield int(nibble, 16), start, end
        start = end


class BatchTrie:
    """Updates tries stored in `db` (node hash -> RLP node); new nodes are written to it."""

    def __init__(self, db: MutableMapping[bytes, bytes]) -> None:
        self.db = db

    def update(self, root: Hash32, items: Iterable[tuple[bytes, Value]]) -> Hash32:
        """The root after setting each (key, non-empty value) of `items`."""
        pairs = sorted(((key.hex(), value) for key, value in items), key=_path)
        if not pairs:
            return root
        node = self._update(None if root == BLANK_ROOT_HASH else self._node(root), pairs)
        encoded = rlp.encode(node)
        new_root = Hash32(keccak(encoded))
        self.db[new_root] = encoded
        return new_root

    def update_child(self, ref: Ref, items: Iterable[tuple[str, Value]]) -> Ref:
        """The new reference of the subtree at `ref` after setting (path below it, value)."""
        return self._ref(self._update(self._node(ref), sorted(items, key=_path)))

    def _ref(self, node: Node) -> Ref:
        encoded = rlp.encode(node)
        if len(encoded) < 32:
            return node
        node_hash = keccak(encoded)
        self.db[node_hash] = encoded
        return node_hash

    def _node(self, ref: Ref) -> Node | None:
        if ref == b"":
            return None
        if isinstance(ref, list):
            return ref
        return rlp.decode(self.db[ref])  # type: ignore[no-any-return]

    def _update(self, node: Node | None, pairs: list[tuple[str, Value]]) -> Node:
        if node is None:
            return self._build([(path, False, _value(value, None)) for path, value in pairs])
        if len(node) == 17:
            branch = list(node)
            paths = [path for path, _ in pairs]
            for nibble, start, end in _runs(paths):
                below = [(path[1:], value) for path, value in pairs[start:end]]
                branch[nibble] = self._ref(self._update(self._node(branch[nibble]), below))
            return branch
        path, leaf = _uncompact(node[0])
        if leaf:
            entries: list[_Entry] = [
                (p, False, _value(value, node[1] if p == path else None)) for p, value in pairs
            ]
            if all(p != path for p, _ in pairs):
                entries.append((path, False, node[1]))
                entries.sort(key=lambda entry: entry[0])
            return self._build(entries)
        return self._update_extension(node, path, pairs)

    def _update_extension(self, node: Node, path: str, pairs: list[tuple[str, Value]]) -> Node:
        length = len(path)
        if all(p[:length] == path for p, _ in pairs):
            below = [(p[length:], value) for p, value in pairs]
            return [node[0], self._ref(self._update(self._node(node[1]), below))]
        # some keys leave the extension's path: split it where the first of them diverges
        split = length
        for p, _ in pairs:
            common = 0
            while common < split and p[common] == path[common]:
                common += 1
            split = common
        head, rest = path[: split + 1], path[split + 1 :]
        rest_node = [_compact(rest, False), node[1]] if rest else self._node(node[1])
        inside = [(p[split + 1 :], value) for p, value in pairs if p[: split + 1] == head]
        entries: list[_Entry] = [
            (p, False, _value(value, None)) for p, value in pairs if p[: split + 1] != head
        ]
        entries.append((head, True, self._update(rest_node, inside) if inside else rest_node))
        entries.sort(key=lambda entry: entry[0])
        return self._build(entries)

    def _build(self, entries: list[_Entry]) -> Node:
        """A node holding sorted `entries`: leaf values, or subtrees placed at their path."""
        if len(entries) == 1:
            path, subtree, payload = entries[0]
            if not subtree:
                return [_compact(path, True), payload]
            if path == "":
                return payload  # type: ignore[no-any-return]
            if len(payload) == 17:
                return [_compact(path, False), self._ref(payload)]
            below, leaf = _uncompact(payload[0])
            return [_compact(path + below, leaf), payload[1]]
        first, last = entries[0][0], entries[-1][0]
        common = 0
        while common < min(len(first), len(last)) and first[common] == last[common]:
            common += 1
        if common:
            inner = self._build([(p[common:], s, x) for p, s, x in entries])
            return [_compact(first[:common], False), self._ref(inner)]
        branch: Node = [b""] * 17
        for nibble, start, end in _runs([entry[0] for entry in entries]):
            group = [(p[1:], s, x) for p, s, x in entries[start:end]]
            branch[nibble] = self._ref(self._build(group))
        return branch
