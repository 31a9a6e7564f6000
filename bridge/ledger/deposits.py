"""Repositories of deposit addresses and of the deposits paid to them."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Insert, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bridge.ledger.audit import AuditLog
from bridge.ledger.base import TrackedRepository
from bridge.ledger.errors import DuplicateRecord, RecordNotFound
from bridge.ledger.models import Deposit, DepositAddress
from bridge.ledger.pagination import Page
from bridge.ledger.states import Asset, DepositStatus, RejectReason
from bridge.ledger.transitions import add_records
from bridge.ledger.types import check_amount, normalize_evm_address

MAX_SATS = 2**63 - 1


def deposit_id(txid: str, vout: int) -> str:
    """A deposit's id: the outpoint that paid the deposit address, `txid:vout`."""
    return f"{txid.lower()}:{vout}"


@dataclass(frozen=True)
class SeenPayment:
    """A payment to a deposit address found in a block: `amount` in sats or Omni units."""

    txid: str
    vout: int
    asset: Asset
    amount: int
    deposit_address: str
    block_height: int
    block_hash: str
    confirmations: int
    omni_property_id: int | None = None


def _insert_if_absent(session: Session, values: dict[str, object]) -> Insert:
    """INSERT .. ON CONFLICT (address) DO NOTHING, in the ledger's dialect."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    return (
        insert(DepositAddress).values(**values).on_conflict_do_nothing(index_elements=["address"])
    )


class DepositAddressRepository:
    """The addresses the bridge handed out, with the script and the recipient behind each."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(
        self,
        address: str,
        witness_script: str,
        recipient: str,
        *,
        refund_pubkey: str | None = None,
        refund_timeout: int | None = None,
    ) -> DepositAddress:
        """Store an address; giving the same address again with the same fields returns it.

        Another process may store the same address at the same moment (the API and a relayer
        learning it from a peer share a ledger): the insert skips a row already there, so the
        two never fail on each other. Raises `DuplicateRecord` when the address is known with
        different fields.
        """
        fields = {
            "witness_script": witness_script.lower(),
            "recipient": normalize_evm_address("recipient", recipient),
            "refund_pubkey": None if refund_pubkey is None else refund_pubkey.lower(),
            "refund_timeout": refund_timeout,
        }
        existing = self.get(address)
        if existing is None:
            statement = _insert_if_absent(self._session, {"address": address, **fields})
            if self._session.execute(statement.returning(DepositAddress.address)).first():
                AuditLog(self._session).append(
                    "deposit_address", address, "created", detail={"recipient": fields["recipient"]}
                )
            existing = self.get(address)
            assert existing is not None
        if any(getattr(existing, name) != value for name, value in fields.items()):
            raise DuplicateRecord("deposit_address", address)
        return existing

    def get(self, address: str) -> DepositAddress | None:
        return self._session.get(DepositAddress, address)

    def by_recipient(self, recipient: str) -> Sequence[DepositAddress]:
        recipient = normalize_evm_address("recipient", recipient)
        query = select(DepositAddress).where(DepositAddress.recipient == recipient)
        return self._session.scalars(query.order_by(DepositAddress.created_at)).all()

    def addresses(self) -> set[str]:
        """Every known address: the set a scanner matches transaction outputs against."""
        return set(self._session.scalars(select(DepositAddress.address)).all())


class DepositRepository(TrackedRepository[Deposit]):
    """Deposits by id `txid:vout`; statuses follow `bridge.ledger.states.DEPOSIT`."""

    model = Deposit

    def record_seen(
        self,
        *,
        txid: str,
        vout: int,
        asset: Asset,
        amount: int,
        deposit_address: str,
        block_height: int,
        block_hash: str,
        confirmations: int,
        omni_property_id: int | None = None,
    ) -> Deposit:
        """One payment to a known deposit address, in a block: status `seen` (see `record_many`)."""
        payment = SeenPayment(
            txid=txid,
            vout=vout,
            asset=asset,
            amount=amount,
            deposit_address=deposit_address,
            block_height=block_height,
            block_hash=block_hash,
            confirmations=confirmations,
            omni_property_id=omni_property_id,
        )
        (deposit,) = self.record_many([payment])
        return deposit

    def record_many(self, payments: Sequence[SeenPayment]) -> list[Deposit]:
        """Payments to known deposit addresses (e.g. all of one block's): status `seen`.

        The recipient is each deposit address's. Everything is checked before anything is
        written: `RecordNotFound` for an unknown address, `DuplicateRecord` for an outpoint
        already recorded (or given twice), `InvalidAmount` for a bad amount.
        """
        wanted = {payment.deposit_address for payment in payments}
        query = select(DepositAddress.address, DepositAddress.recipient).where(
            DepositAddress.address.in_(wanted)
        )
        recipients: dict[str, str] = {row[0]: row[1] for row in self._session.execute(query)}
        deposits = []
        for payment in payments:
            if payment.deposit_address not in recipients:
                raise RecordNotFound("deposit_address", payment.deposit_address)
            deposits.append(
                Deposit(
                    id=deposit_id(payment.txid, payment.vout),
                    txid=payment.txid.lower(),
                    vout=payment.vout,
                    asset=Asset(payment.asset),
                    omni_property_id=payment.omni_property_id,
                    amount=check_amount("amount", payment.amount, maximum=MAX_SATS),
                    deposit_address=payment.deposit_address,
                    recipient=recipients[payment.deposit_address],
                    block_height=payment.block_height,
                    block_hash=payment.block_hash.lower(),
                    confirmations=payment.confirmations,
                    status=DepositStatus.SEEN,
                )
            )
        details = [{"amount": d.amount, "asset": str(d.asset)} for d in deposits]
        add_records(self._session, deposits, details=details)
        return deposits

    def set_confirmations(self, deposit_id: str, confirmations: int) -> Deposit:
        """Update the confirmation count (not a status change, so not audited)."""
        deposit = self.require(deposit_id)
        deposit.confirmations = confirmations
        return deposit

    def reject(self, deposit_id: str, reason: RejectReason, message: str | None = None) -> Deposit:
        return self.move(
            deposit_id,
            DepositStatus.REJECTED,
            changes={"reject_reason": RejectReason(reason)},
            detail={"message": message} if message else None,
        )

    def mark_minted(self, deposit_id: str, mint_tx_hash: str, mint_block: int) -> Deposit:
        return self.move(
            deposit_id,
            DepositStatus.MINTED,
            changes={"mint_tx_hash": mint_tx_hash.lower(), "mint_block": mint_block},
        )

    def restore(
        self, deposit_id: str, *, block_height: int, block_hash: str, confirmations: int
    ) -> Deposit:
        """A reorged deposit is back in the best chain (maybe in another block): `seen` again."""
        return self.move(
            deposit_id,
            DepositStatus.SEEN,
            changes={
                "block_height": block_height,
                "block_hash": block_hash.lower(),
                "confirmations": confirmations,
                "reject_reason": None,
            },
        )

    def in_blocks(self, block_hashes: Iterable[str]) -> Sequence[Deposit]:
        """Deposits recorded in these blocks (the ones a reorg just disconnected)."""
        hashes = [block_hash.lower() for block_hash in block_hashes]
        query = select(Deposit).where(Deposit.block_hash.in_(hashes))
        return self._session.scalars(query.order_by(Deposit.block_height, Deposit.id)).all()

    def page(
        self,
        *,
        recipient: str | None = None,
        deposit_address: str | None = None,
        status: DepositStatus | None = None,
        asset: Asset | None = None,
        cursor: str | None = None,
        limit: int = 50,
        newest_first: bool = True,
    ) -> Page[Deposit]:
        """Deposits matching every filter given, one page at a time (see `paginate`)."""
        filters: list[ColumnElement[bool]] = []
        if recipient is not None:
            filters.append(Deposit.recipient == normalize_evm_address("recipient", recipient))
        if deposit_address is not None:
            filters.append(Deposit.deposit_address == deposit_address)
        if status is not None:
            filters.append(Deposit.status == DepositStatus(status))
        if asset is not None:
            filters.append(Deposit.asset == Asset(asset))
        return self._page(filters, cursor, limit, newest_first)

    def total_amount(self, asset: Asset, statuses: Iterable[DepositStatus]) -> int:
        """Sum of the amounts of `asset` deposits in `statuses` (e.g. minted, for the audit)."""
        query = select(func.coalesce(func.sum(Deposit.amount), 0)).where(
            Deposit.asset == Asset(asset), Deposit.status.in_(list(statuses))
        )
        return int(self._session.scalar(query) or 0)
