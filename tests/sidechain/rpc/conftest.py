"""A real `sluice node run` process on a free port, over a dev data directory, and web3 on it."""

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from regtest.util import free_port
from tests.support.node import NodeProcess, init_dev

__all__ = ["NodeProcess", "free_port", "init_dev"]  # also used by the relayer's tests


@pytest.fixture(scope="module")
def dev_datadir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return init_dev(tmp_path_factory.mktemp("node"))


@pytest.fixture
def node_process() -> Iterator[Callable[[Path], NodeProcess]]:
    """Starts nodes over given data directories; stops those still running at the end."""
    started: list[NodeProcess] = []

    def start(datadir: Path) -> NodeProcess:
        process = NodeProcess(datadir)
        process.start()
        started.append(process)
        return process

    yield start
    for process in started:
        if process.process is not None:
            process.stop()


@pytest.fixture
def fresh_node(tmp_path: Path, node_process: Callable[[Path], NodeProcess]) -> NodeProcess:
    """A node of its own, for tests that stop and restart it."""
    return node_process(init_dev(tmp_path / "node"))


@pytest.fixture(scope="module")
def node(dev_datadir: Path) -> Iterator[NodeProcess]:
    process = NodeProcess(dev_datadir)
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def w3(node: NodeProcess) -> Web3:
    return Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 30}))


def _accounts(path: Path) -> list[LocalAccount]:
    return [Account.from_key(entry["private_key"]) for entry in json.loads(path.read_text())]


@pytest.fixture(scope="module")
def accounts(dev_datadir: Path) -> list[LocalAccount]:
    return _accounts(dev_datadir / "dev-accounts.json")


@pytest.fixture(scope="module")
def federation(dev_datadir: Path) -> list[LocalAccount]:
    return _accounts(dev_datadir / "dev-federation.json")
