"""API fixtures: the app over a real ledger (SQLite and PostgreSQL), a client, record builders.

`api_client` serves `build_app` on a loopback port (aiohttp's TestServer) over the ledger of
the parametrised backend; `write` writes records into that same ledger, as a relayer would.
By default bitcoind and the node are unreachable (a closed port), so tests that need a chain
take the `bitcoind` fixture or start a node (`sidechain_node`).
"""

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bridge.ledger import Ledger, create_ledger_engine, ledger_sessions
from bridge.ledger.testing import sqlite_ledger, truncate_ledger
from sluice.config import BitcoinConfig, Config
from tests.relayer.api.support import make_config, serve
from tests.support.node import NodeProcess, init_dev
from tests.support.postgres import BACKENDS, postgres_url

__all__ = ["postgres_url"]  # a fixture, taken by importing it


@pytest.fixture(params=BACKENDS)
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty ledger migrated to head on the parametrised backend."""
    if request.param == "sqlite":
        sqlite_ledger(tmp_path).dispose()
        yield f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_url")
        engine = create_ledger_engine(url)
        truncate_ledger(engine)
        engine.dispose()
        yield url


@pytest.fixture
def ledger_engine(ledger_url: str) -> Iterator[Engine]:
    engine = create_ledger_engine(ledger_url)
    yield engine
    engine.dispose()


@pytest.fixture
def write(ledger_engine: Engine) -> Callable[[Callable[[Ledger], object]], object]:
    """Run a function over the ledger in one committed transaction (a relayer's write)."""
    sessions: sessionmaker[Session] = ledger_sessions(ledger_engine)

    def run(work: Callable[[Ledger], object]) -> object:
        with sessions.begin() as session:
            return work(Ledger(session))

    return run


@pytest.fixture
def config(ledger_url: str) -> Config:
    return make_config(ledger_url)


@pytest.fixture
async def api_client(config: Config) -> AsyncIterator[TestClient]:
    client = await serve(config)
    yield client
    await client.close()


@pytest.fixture
def with_config(config: Config) -> Callable[..., Config]:
    """The test's config with some api settings changed."""

    def build(**api: object) -> Config:
        return replace(config, api=replace(config.api, **api))  # type: ignore[arg-type]

    return build


@pytest.fixture(scope="session")
def sidechain_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`sluice node run` on a dev chain and a free port: yields its JSON-RPC URL."""
    process = NodeProcess(init_dev(tmp_path_factory.mktemp("node")))
    process.start()
    try:
        yield process.url
    finally:
        process.stop()


@pytest.fixture
def live_config(config: Config, bitcoind: object, sidechain_node: str) -> Config:
    """The test's config over the session's real bitcoind and sidechain node."""
    bitcoin = BitcoinConfig(
        rpc_url=bitcoind.rpc_url,  # type: ignore[attr-defined]
        rpc_user=bitcoind.rpc_user,  # type: ignore[attr-defined]
        rpc_password=bitcoind.rpc_password,  # type: ignore[attr-defined]
    )
    return replace(config, bitcoin=bitcoin, api=replace(config.api, node_rpc_url=sidechain_node))


@pytest.fixture
async def live_client(live_config: Config) -> AsyncIterator[TestClient]:
    client = await serve(live_config)
    yield client
    await client.close()
