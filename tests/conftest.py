"""Fixtures shared by every test folder: a real bitcoind in regtest, one per test session.

Under pytest-xdist each worker is its own session, so each worker gets its own node.
"""

from collections.abc import Iterator

import pytest

from regtest.binaries import Binaries, install
from regtest.node import BitcoindNode


@pytest.fixture(scope="session")
def bitcoind_binaries() -> Binaries:
    """The installer is idempotent: a no-op when `.regtest/bin` already works."""
    return install()


@pytest.fixture(scope="session")
def bitcoind(
    bitcoind_binaries: Binaries, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BitcoindNode]:
    """A started regtest node with the `sluice` wallet holding mature coins."""
    node = BitcoindNode(tmp_path_factory.mktemp("bitcoind"), bitcoind_binaries)
    node.start()
    try:
        node.mine_to_maturity()
        yield node
    finally:
        node.stop()
