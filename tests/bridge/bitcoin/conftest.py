"""Fixtures for the Bitcoin-side tests: an empty migrated ledger on SQLite and on PostgreSQL
(a fresh schema per test) for the scanner."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bridge.ledger import create_ledger_engine, ledger_sessions, upgrade_ledger
from bridge.ledger.testing import postgres_schema, sqlite_ledger
from tests.support.postgres import BACKENDS


@pytest.fixture(params=BACKENDS)
def ledger_sessions_factory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[sessionmaker[Session]]:
    """Sessions of an empty ledger migrated to head, once per backend."""
    if request.param == "sqlite":
        engine = sqlite_ledger(tmp_path)
        yield ledger_sessions(engine)
        engine.dispose()
        return
    with postgres_schema(prefix="scanner_test") as url:
        engine = create_ledger_engine(url)
        upgrade_ledger(engine)
        yield ledger_sessions(engine)
        engine.dispose()
