"""Runs the Alembic migrations in `migrations/` against a ledger engine, from any directory."""

from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.util import CommandError
from sqlalchemy import Connection, Engine

from bridge.ledger.engine import create_ledger_engine
from bridge.ledger.errors import MigrationError

MIGRATIONS_DIR = Path(str(files("migrations")))


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config built in code (no alembic.ini): the script location is the package's."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def upgrade_ledger(target: Engine | str, revision: str = "head") -> None:
    """Migrate the ledger at `target` (an engine or a URL) up to `revision`."""
    _run(target, revision, command.upgrade)


def downgrade_ledger(target: Engine | str, revision: str) -> None:
    """Migrate the ledger at `target` down to `revision` (`base` removes every table)."""
    _run(target, revision, command.downgrade)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, None when it was never migrated."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _run(target: Engine | str, revision: str, step: Callable[[Config, str], None]) -> None:
    engine = create_ledger_engine(target) if isinstance(target, str) else target
    try:
        with engine.begin() as connection:
            step(alembic_config(connection), revision)
    except CommandError as error:
        raise MigrationError(revision, str(error)) from error
    finally:
        if isinstance(target, str):
            engine.dispose()
