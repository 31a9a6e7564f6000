"""Engines and sessions for the ledger: SQLite in WAL mode by default, PostgreSQL via psycopg 3."""

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 10_000


def create_ledger_engine(url: str, **engine_options: Any) -> Engine:
    """An engine for `url`; on SQLite every connection gets WAL, foreign keys and a busy timeout.

    WAL lets the API read while a relayer loop writes; foreign keys are off in SQLite unless
    asked for on each connection. PostgreSQL URLs use `postgresql+psycopg://` (psycopg 3); a
    schema can be chosen with `?options=-csearch_path%3DNAME`.
    """
    engine = create_engine(url, **engine_options)
    if make_url(url).get_backend_name() == "sqlite":
        event.listen(engine, "connect", _configure_sqlite_connection)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")  # a no-op for in-memory databases
    finally:
        cursor.close()


def ledger_sessions(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects stay readable after commit (callers own begin/commit)."""
    return sessionmaker(engine, expire_on_commit=False)
