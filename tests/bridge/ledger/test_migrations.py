"""Alembic migrations: empty -> head -> base -> head on both backends, matching the models."""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from bridge.ledger import (
    Base,
    Ledger,
    MigrationError,
    create_ledger_engine,
    downgrade_ledger,
    ledger_sessions,
    upgrade_ledger,
)
from bridge.ledger.migrate import current_revision
from bridge.ledger.testing import postgres_schema
from sluice.cli import main
from tests.support.postgres import BACKENDS

LEDGER_TABLES = {table.name for table in Base.metadata.sorted_tables}
TRIGGER_QUERY = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name",
    "postgresql": "SELECT tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
    " WHERE c.relname = 'audit_log' AND c.relnamespace = current_schema()::regnamespace"
    " AND NOT t.tgisinternal",
}
HEAD = "0002"


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
        assert revision == HEAD
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
    assert capsys.readouterr().out.strip() == HEAD
    assert main(["db", "downgrade", "--url", empty_url, "base"]) == 0
    assert _schema_state(empty_url)[0] == set()
    assert main(["db", "downgrade", "--url", empty_url, "nope"]) == 2
    assert "cannot migrate the ledger to revision 'nope'" in capsys.readouterr().err


def test_sluice_db_reads_the_url_from_the_config_file(tmp_path: Path) -> None:
    database = tmp_path / "configured.sqlite3"
    config = tmp_path / "sluice.toml"
    config.write_text(f'[ledger]\nurl = "sqlite:///{database}"\n')
    assert main(["db", "upgrade", "--config", str(config)]) == 0
    assert _schema_state(f"sqlite:///{database}")[3] == HEAD


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


def test_0002_moves_the_flags_out_of_the_cursors_and_back(empty_url: str) -> None:
    """The pause flag and the told marks, once fake cursor rows, become a table and a column;
    the deposit loop's sidechain cursor restarts so it fills sidechain_mints."""
    upgrade_ledger(empty_url, "0001")
    engine = create_ledger_engine(empty_url)
    txid = "ab" * 32
    now = "2026-12-01 10:00:00+00:00"
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO releases (txid, fee, fee_rate, status, confirmations, created_at, "
                f"updated_at) VALUES ('{txid}', 500, 2000, 'confirmed', 6, '{now}', '{now}')"
            )
            for name, position, tag in (
                ("bridge.paused", 1, "reorg drill"),
                (f"told:{txid[:58]}", 1, None),
                ("deposits.sidechain", 40, None),
                ("deposit_scanner", 7, "00" * 32),
            ):
                connection.execute(
                    text(
                        "INSERT INTO cursors (name, position, tag, updated_at) "
                        "VALUES (:name, :position, :tag, :now)"
                    ),
                    {"name": name, "position": position, "tag": tag, "now": now},
                )
        upgrade_ledger(empty_url)
        with ledger_sessions(engine)() as session:
            ledger = Ledger(session)
            state = ledger.pause.state()
            assert (state.paused, state.reason) == (True, "reorg drill")
            assert ledger.releases.require(txid).sidechain_told_at is not None
            assert [c.name for c in ledger.cursors.all()] == ["deposit_scanner"]
        downgrade_ledger(empty_url, "0001")
        with engine.connect() as connection:
            rows = connection.exec_driver_sql(
                "SELECT name, position, tag FROM cursors ORDER BY name"
            ).all()
        assert [tuple(row) for row in rows] == [
            ("bridge.paused", 1, "reorg drill"),
            ("deposit_scanner", 7, "00" * 32),
            (f"told:{txid[:58]}", 1, None),
        ]
    finally:
        engine.dispose()
