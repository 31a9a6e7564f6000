"""The one-pass list-trie root equals py-evm's for every size that changes the trie's shape."""

import os

import pytest
from eth.db.trie import make_trie_root_and_nodes

from sidechain.executor.trie_root import ordered_trie_root


class _Item:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def encode(self) -> bytes:
        return self.data


@pytest.mark.parametrize("count", [0, 1, 2, 3, 15, 16, 17, 127, 128, 129, 300, 1100])
def test_root_equals_py_evm(count):
    items = [os.urandom(1 + (i * 7) % 90) for i in range(count)]
    expected, _ = make_trie_root_and_nodes(tuple(_Item(item) for item in items))
    assert ordered_trie_root(items) == expected


def test_short_items_are_inlined_like_py_evm():
    items = [bytes([i]) for i in range(40)]
    expected, _ = make_trie_root_and_nodes(tuple(_Item(item) for item in items))
    assert ordered_trie_root(items) == expected
