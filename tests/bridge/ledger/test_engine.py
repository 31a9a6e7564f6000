"""Ledger engines: SQLite in WAL mode with foreign keys, PostgreSQL through psycopg 3."""

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(
    ledger_engine: Engine, ledger_backend: str
) -> None:
    if ledger_backend != "sqlite":
        assert ledger_engine.dialect.driver == "psycopg"
        return
    with ledger_engine.connect() as connection:
        pragmas = [
            connection.exec_driver_sql(f"PRAGMA {name}").scalar_one()
            for name in ("journal_mode", "foreign_keys", "busy_timeout")
        ]
    assert pragmas == ["wal", 1, 10_000]


def test_foreign_keys_are_enforced(ledger_engine: Engine) -> None:
    insert = text(
        "INSERT INTO deposits (id, txid, vout, asset, amount, deposit_address, recipient,"
        " block_height, block_hash, confirmations, status, created_at, updated_at)"
        " VALUES ('t:0', 't', 0, 'BTC', 1, 'bcrt1qnobody', '0x', 1, 'h', 0, 'seen',"
        " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
    )
    with pytest.raises(IntegrityError), ledger_engine.begin() as connection:
        connection.execute(insert)
