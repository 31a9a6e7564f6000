"""The deposit scanner's ledger writes: payments recorded once, confirmations counted to the depth.

The forward scan and the rescan of learned addresses (bridge.bitcoin.scanner) both write
through here, inside the transaction that also moves their cursor.
"""

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy import or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from bridge.bitcoin.chain import BlockRef
from bridge.bitcoin.payments import Payment
from bridge.ledger.deposits import SeenPayment, deposit_id
from bridge.ledger.ledger import Ledger
from bridge.ledger.models import Base, Deposit
from bridge.ledger.states import DepositStatus

QUERY_CHUNK = 500  # values per IN (...) list
_STILL_COUNTING = (DepositStatus.SEEN, DepositStatus.REJECTED)

M = TypeVar("M", bound=Base)


def rows_where_in(
    session: Session, model: type[M], column: InstrumentedAttribute[Any], values: Iterable[Any]
) -> list[M]:
    """The rows of `model` whose `column` is one of `values`, read in bounded IN lists."""
    pending = sorted(set(values))
    found: list[M] = []
    for start in range(0, len(pending), QUERY_CHUNK):
        chunk = pending[start : start + QUERY_CHUNK]
        found.extend(session.scalars(select(model).where(column.in_(chunk))))
    return found


def record_payments(ledger: Ledger, payments: Sequence[Payment], block: BlockRef) -> int:
    """Record the payments found in `block`; returns how many were written.

    A new payment is `seen`; one whose deposit a reorg took away is restored (`seen`, in this
    block); a refused one then becomes `rejected` with its reason. A payment already recorded
    in this very block is left alone, so a block read twice (a rescan) records nothing twice.
    One recorded in another block and not reorged raises `DuplicateRecord`, writing nothing.
    Only the deposits with these payments' ids are loaded.
    """
    ids = [deposit_id(p.txid, p.vout) for p in payments]
    existing = {d.id: d for d in rows_where_in(ledger.session, Deposit, Deposit.id, ids)}
    block_hash = block.hash.lower()
    new: list[Payment] = []
    written: list[tuple[str, Payment]] = []
    for record_id, payment in zip(ids, payments, strict=True):
        found = existing.get(record_id)
        if found is not None and found.status is DepositStatus.REORGED:
            ledger.deposits.restore(
                record_id, block_height=block.height, block_hash=block_hash, confirmations=1
            )
        elif found is not None and found.block_hash == block_hash:
            continue
        else:
            new.append(payment)
        written.append((record_id, payment))
    ledger.deposits.record_many([_seen(p, block) for p in new])
    for record_id, payment in written:
        if payment.reject_reason is not None:
            ledger.deposits.reject(record_id, payment.reject_reason, payment.detail)
    return len(written)


def count_confirmations(ledger: Ledger, height: int, depth: int) -> None:
    """Confirmations of deposits not yet at the depth, as of the ledger's tip `height`; a
    `seen` one that reaches the depth (at once when the depth is 1) becomes `confirmed`."""
    counting = select(Deposit).where(
        Deposit.status.in_(_STILL_COUNTING),
        or_(
            Deposit.status == DepositStatus.SEEN,
            Deposit.confirmations < depth,
            Deposit.block_height > height - depth,
        ),
    )
    for deposit in ledger.session.scalars(counting).all():
        confirmations = min(depth, height - deposit.block_height + 1)
        if deposit.status is DepositStatus.SEEN and confirmations >= depth:
            ledger.deposits.move(
                deposit.id, DepositStatus.CONFIRMED, changes={"confirmations": confirmations}
            )
        elif confirmations != deposit.confirmations:
            ledger.deposits.set_confirmations(deposit.id, confirmations)


def _seen(payment: Payment, block: BlockRef) -> SeenPayment:
    return SeenPayment(
        txid=payment.txid,
        vout=payment.vout,
        asset=payment.asset,
        amount=payment.amount,
        deposit_address=payment.address,
        block_height=block.height,
        block_hash=block.hash,
        confirmations=1,
        omni_property_id=payment.omni_property_id,
    )
