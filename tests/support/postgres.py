"""The ledger backends tests run on, and one migrated PostgreSQL schema per test session.

A conftest takes the fixture by importing it: `from tests.support.postgres import postgres_url`.
"""

from collections.abc import Iterator

import pytest

from bridge.ledger import create_ledger_engine, upgrade_ledger
from bridge.ledger.testing import postgres_schema

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A schema migrated to head, one per test session (per xdist worker); tests empty it in
    turn (`bridge.ledger.testing.truncate_ledger`)."""
    with postgres_schema(prefix="test") as url:
        engine = create_ledger_engine(url)
        upgrade_ledger(engine)
        engine.dispose()
        yield url
