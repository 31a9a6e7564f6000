"""Test support: throw-away ledger databases (SQLite file, PostgreSQL schema) and record builders.

Any test folder can build its fixtures from these (tests/bridge/ledger/conftest.py does):
each PostgreSQL schema has a unique name, so parallel workers (pytest-xdist) never meet. The
builders make one fresh record of each kind, in its initial status, with unique ids.
"""

import itertools
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Engine, text

from bridge.ledger.engine import create_ledger_engine
from bridge.ledger.ledger import Ledger
from bridge.ledger.migrate import upgrade_ledger
from bridge.ledger.models import (
    Base,
    Challenge,
    Claim,
    Deposit,
    Release,
    StateCommitment,
    Tracked,
    Withdrawal,
)
from bridge.ledger.states import Asset, ClaimKind, WindowClock

TEST_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def sqlite_ledger(directory: Path, name: str = "ledger.sqlite3") -> Engine:
    """A new SQLite ledger file in `directory`, migrated to head."""
    engine = create_ledger_engine(f"sqlite:///{directory / name}")
    upgrade_ledger(engine)
    return engine


@contextmanager
def postgres_schema(server_url: str = TEST_POSTGRES_URL, prefix: str = "ledger") -> Iterator[str]:
    """Create a uniquely named empty schema, yield a URL whose search_path is it, drop it."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_ledger_engine(server_url)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        separator = "&" if "?" in server_url else "?"
        yield f"{server_url}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def truncate_ledger(engine: Engine) -> None:
    """Empty every ledger table of a PostgreSQL ledger (TRUNCATE bypasses the audit triggers,
    which guard rows against UPDATE and DELETE, not the whole table against its owner)."""
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


RECIPIENT = "0x" + "ab" * 20
OPERATOR = "0x" + "0c" * 20
CHALLENGER = "0x" + "cc" * 20
SENDER = "0x" + "5e" * 20
ADDRESS = "bcrt1qdepositaddress0000000000000000000000000000000000000"
SCRIPT = "14" + "ab" * 20 + "75" + "51ae"

_numbers = itertools.count(1)


def txid(n: int) -> str:
    """A distinct 64-hex-digit id for `n`."""
    return f"{n:064x}"


def deposit(
    ledger: Ledger, *, amount: int = 50_000, asset: Asset = Asset.BTC, height: int = 100
) -> Deposit:
    n = next(_numbers)
    if ledger.deposit_addresses.get(ADDRESS) is None:
        ledger.deposit_addresses.add(ADDRESS, SCRIPT, RECIPIENT)
    return ledger.deposits.record_seen(
        txid=txid(n),
        vout=n % 3,
        asset=asset,
        amount=amount,
        deposit_address=ADDRESS,
        block_height=height,
        block_hash=txid(10**9 + height),
        confirmations=1,
    )


def withdrawal(ledger: Ledger, *, amount: int = 20_000, burned: int | None = None) -> Withdrawal:
    n = next(_numbers)
    return ledger.withdrawals.record_requested(
        withdrawal_id=f"0x{n:064x}",
        sender=SENDER,
        asset=Asset.BTC,
        amount=amount,
        burned_amount=amount * 10**10 if burned is None else burned,
        bitcoin_address="bcrt1qwithdrawal",
        sidechain_tx_hash=f"0x{n + 7:064x}",
        sidechain_block=n,
        log_index=0,
    )


def release(ledger: Ledger) -> Release:
    return ledger.releases.create(txid=txid(next(_numbers)), payments=[], fee=500, fee_rate=2000)


def claim(
    ledger: Ledger, *, kind: ClaimKind = ClaimKind.DEPOSIT_ATTESTATION, closes_at: int = 20
) -> Claim:
    return ledger.claims.open(
        kind=kind,
        subject=f"{txid(next(_numbers))}:0",
        operator=OPERATOR,
        clock=WindowClock.BITCOIN,
        opened_at_height=10,
        closes_at_height=closes_at,
    )


def challenge(ledger: Ledger, *, bond: int = 10**18) -> Challenge:
    return ledger.challenges.submit(
        claim_id=claim(ledger).id, challenger=CHALLENGER, bond=bond, evidence={"kind": "test"}
    )


def commitment(ledger: Ledger) -> StateCommitment:
    return ledger.commitments.record(next(_numbers), "0x" + "5a" * 32)


BUILDERS: dict[str, Callable[[Ledger], Tracked]] = {
    "deposit": deposit,
    "withdrawal": withdrawal,
    "release": release,
    "claim": claim,
    "challenge": challenge,
    "state_commitment": commitment,
}
