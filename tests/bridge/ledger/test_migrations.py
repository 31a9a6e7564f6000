"""Alembic migrations: empty -> head -> base -> head on both backends, matching the models."""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from bridge.ledger import (
    Base,
    MigrationError,
    create_ledger_engine,
    downgrade_ledger,
    upgrade_ledger,
)
from bridge.ledger.migrate import current_revision
from bridge.ledger.testing import postgres_schema
from sluice.cli import main

LEDGER_TABLES = {table.name for table in Base.metadata.sorted_tables}
TRIGGER_QUERY = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name",
    "postgresql": "SELECT tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
    " WHERE c.relname = 'audit_log' AND c.relnamespace = current_schema()::regnamespace"
    " AND NOT t.tgisinternal",
}
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of a database (or schema) with nothing in it."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    else:
        with postgres_schema(prefix="ledger_migration") as url:
            yield url


def _schema_state(url: str) -> tuple[set[str], list[object], list[str], str | None]:
    """Tables, differences from the models, audit triggers, and the revision."""
    engine = create_ledger_engine(url)
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names()) - {"alembic_version"}
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata) if tables else []
            triggers = [
                row[0] for row in connection.exec_driver_sql(TRIGGER_QUERY[engine.dialect.name])
            ]
        return tables, diff, triggers, current_revision(engine)
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade_leaves_a_schema_equal_to_the_models(empty_url: str) -> None:
    for _ in range(2):
        upgrade_ledger(empty_url)
        tables, diff, triggers, revision = _schema_state(empty_url)
        assert tables == LEDGER_TABLES
        assert diff == []
        assert triggers
        assert revision == "0001"
        downgrade_ledger(empty_url, "base")
        assert _schema_state(empty_url) == (set(), [], [], None)
    upgrade_ledger(empty_url, "0001")
    assert _schema_state(empty_url)[3] == "0001"


def test_an_unknown_revision_is_a_migration_error(empty_url: str) -> None:
    with pytest.raises(MigrationError, match="'nope'"):
        upgrade_ledger(empty_url, "nope")


def test_sluice_db_moves_the_schema_up_and_down(
    empty_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "upgrade", "--url", empty_url]) == 0
    assert main(["db", "current", "--url", empty_url]) == 0
    assert capsys.readouterr().out.strip() == "0001"
    assert main(["db", "downgrade", "--url", empty_url, "base"]) == 0
    assert _schema_state(empty_url)[0] == set()
    assert main(["db", "downgrade", "--url", empty_url, "nope"]) == 2
    assert "cannot migrate the ledger to revision 'nope'" in capsys.readouterr().err


def test_sluice_db_reads_the_url_from_the_config_file(tmp_path: Path) -> None:
    database = tmp_path / "configured.sqlite3"
    config = tmp_path / "sluice.toml"
    config.write_text(f'[ledger]\nurl = "sqlite:///{database}"\n')
    assert main(["db", "upgrade", "--config", str(config)]) == 0
    assert _schema_state(f"sqlite:///{database}")[3] == "0001"


def test_sluice_db_finds_the_migrations_from_any_directory(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'elsewhere.sqlite3'}"
    sluice = Path(sys.executable).with_name("sluice")
    done = subprocess.run(
        [str(sluice), "db", "upgrade", "--url", url],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert _schema_state(url)[0] == LEDGER_TABLES
