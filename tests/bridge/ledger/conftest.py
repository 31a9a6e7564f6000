"""Ledger fixtures: every test that takes `ledger_engine` runs on SQLite and on PostgreSQL."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bridge.ledger import DepositAddress, Ledger, create_ledger_engine, ledger_sessions
from bridge.ledger.testing import ADDRESS, RECIPIENT, SCRIPT, sqlite_ledger, truncate_ledger
from tests.support.postgres import BACKENDS, postgres_url

__all__ = ["postgres_url"]  # a fixture: pytest finds it through this module


@pytest.fixture(params=BACKENDS)
def ledger_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def ledger_engine(
    ledger_backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Engine]:
    """An empty ledger migrated to head, on the parametrised backend."""
    if ledger_backend == "sqlite":
        engine = sqlite_ledger(tmp_path)
    else:
        engine = create_ledger_engine(request.getfixturevalue("postgres_url"))
        truncate_ledger(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(ledger_engine: Engine) -> sessionmaker[Session]:
    return ledger_sessions(ledger_engine)


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as session:
        yield session


@pytest.fixture
def ledger(session: Session) -> Ledger:
    return Ledger(session)


@pytest.fixture
def deposit_address(ledger: Ledger) -> DepositAddress:
    address = ledger.deposit_addresses.add(ADDRESS, SCRIPT, RECIPIENT)
    ledger.session.commit()
    return address
