"""The scanner's ledger writes (bridge.bitcoin.deposit_records) on SQLite and PostgreSQL:
recording a block's payments loads only the deposits those payments could be, records each
once however often the block is read, and confirmations reach the depth at any depth."""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from bridge.bitcoin.chain import BlockRef
from bridge.bitcoin.deposit_records import count_confirmations, record_payments
from bridge.bitcoin.payments import Payment
from bridge.ledger import Ledger
from bridge.ledger.models import AuditEntry, Deposit
from bridge.ledger.states import Asset, DepositStatus, RejectReason
from tests.bridge.bitcoin.test_deposit_scanner import make_addresses

OLD_BLOCK = BlockRef(100, "aa" * 32)
BLOCK = BlockRef(200, "bb" * 32)


def payment(n: int, address: str, amount: int = 50_000) -> Payment:
    return Payment(f"{n:064x}", 0, address, Asset.BTC, amount)


def seen(ledger: Ledger, paid: Payment, block: BlockRef, confirmations: int = 1) -> None:
    ledger.deposits.record_seen(
        txid=paid.txid,
        vout=paid.vout,
        asset=paid.asset,
        amount=paid.amount,
        deposit_address=paid.address,
        block_height=block.height,
        block_hash=block.hash,
        confirmations=confirmations,
    )


@contextmanager
def loaded_deposits() -> Iterator[set[str]]:
    """The ids of the Deposit rows loaded from the database meanwhile."""
    loaded: set[str] = set()

    def on_load(deposit: Deposit, _context: object) -> None:
        loaded.add(deposit.id)

    event.listen(Deposit, "load", on_load)
    try:
        yield loaded
    finally:
        event.remove(Deposit, "load", on_load)


def created_entries(sessions: sessionmaker[Session]) -> int:
    query = select(func.count()).where(
        AuditEntry.record_kind == "deposit", AuditEntry.action == "created"
    )
    with sessions() as session:
        return int(session.scalar(query) or 0)


def test_recording_a_block_loads_only_the_deposits_its_payments_could_be(
    ledger_sessions_factory: sessionmaker[Session],
) -> None:
    """Thirty old reorged deposits stay unread; the one paid again in the block is restored."""
    sessions = ledger_sessions_factory
    (address,) = make_addresses(sessions, 1)
    old = [payment(n, address) for n in range(1, 31)]
    with sessions.begin() as session:
        ledger = Ledger(session)
        for paid in old:
            seen(ledger, paid, OLD_BLOCK)
            ledger.deposits.move(f"{paid.txid}:0", DepositStatus.REORGED)
    back, new = old[7], payment(99, address)
    with loaded_deposits() as loaded, sessions.begin() as session:
        assert record_payments(Ledger(session), [back, new], BLOCK) == 2
    assert f"{back.txid}:0" in loaded
    assert loaded <= {f"{back.txid}:0", f"{new.txid}:0"}
    with sessions() as session:
        statuses = {d.id: (d.status, d.block_hash) for d in session.scalars(select(Deposit))}
    assert statuses[f"{back.txid}:0"] == (DepositStatus.SEEN, BLOCK.hash)
    assert statuses[f"{new.txid}:0"] == (DepositStatus.SEEN, BLOCK.hash)
    assert sum(s == (DepositStatus.REORGED, OLD_BLOCK.hash) for s in statuses.values()) == 29


def test_a_block_recorded_twice_writes_its_payments_once(
    ledger_sessions_factory: sessionmaker[Session],
) -> None:
    sessions = ledger_sessions_factory
    (address,) = make_addresses(sessions, 1)
    accepted, small = payment(1, address), payment(2, address, amount=10)
    refused = Payment(
        small.txid, 0, address, Asset.BTC, 10, reject_reason=RejectReason.BELOW_MINIMUM
    )
    for written in (2, 0):
        with sessions.begin() as session:
            assert record_payments(Ledger(session), [accepted, refused], BLOCK) == written
    assert created_entries(sessions) == 2
    with sessions() as session:
        statuses = {d.id: d.status for d in session.scalars(select(Deposit))}
    assert statuses == {
        f"{accepted.txid}:0": DepositStatus.SEEN,
        f"{refused.txid}:0": DepositStatus.REJECTED,
    }


def test_a_seen_deposit_reaches_the_depth_even_when_its_count_is_already_there(
    ledger_sessions_factory: sessionmaker[Session],
) -> None:
    """At depth 1 a deposit is recorded with its one confirmation: it is confirmed at once, and
    one left `seen` with a full count (as an earlier scanner left them) is confirmed too."""
    sessions = ledger_sessions_factory
    (address,) = make_addresses(sessions, 1)
    fresh, stuck, rejected = payment(1, address), payment(2, address), payment(3, address)
    with sessions.begin() as session:
        ledger = Ledger(session)
        seen(ledger, fresh, BLOCK)
        seen(ledger, stuck, OLD_BLOCK)
        seen(ledger, rejected, BLOCK)
        ledger.deposits.reject(f"{rejected.txid}:0", RejectReason.BELOW_MINIMUM)
        count_confirmations(ledger, BLOCK.height, depth=1)
    with sessions() as session:
        found = {d.id: (d.status, d.confirmations) for d in session.scalars(select(Deposit))}
    assert found == {
        f"{fresh.txid}:0": (DepositStatus.CONFIRMED, 1),
        f"{stuck.txid}:0": (DepositStatus.CONFIRMED, 1),
        f"{rejected.txid}:0": (DepositStatus.REJECTED, 1),
    }
