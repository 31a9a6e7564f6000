"""Fixtures of the relayer's tests: a regtest bitcoind per test module."""

from collections.abc import Iterator

import pytest

from regtest.binaries import Binaries
from regtest.node import BitcoindNode


@pytest.fixture(scope="module")
def chain(
    bitcoind_binaries: Binaries, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BitcoindNode]:
    """A bitcoind of the module's own (with mature coins): its tests restart it, reorganise its
    chain or mine empty blocks, which the session's shared node must not see."""
    node = BitcoindNode(tmp_path_factory.mktemp("bitcoind"), bitcoind_binaries)
    node.start()
    try:
        node.mine_to_maturity()
        yield node
    finally:
        node.stop()
