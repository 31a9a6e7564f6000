"""Repositories of withdrawal requests and of the Bitcoin release transactions that pay them."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select

from bridge.ledger.audit import AuditLog
from bridge.ledger.base import TrackedRepository
from bridge.ledger.deposits import MAX_SATS
from bridge.ledger.errors import TransitionNotAllowed
from bridge.ledger.models import Release, ReleaseOutput, Withdrawal
from bridge.ledger.pagination import Page
from bridge.ledger.states import WITHDRAWAL, Asset, ReleaseStatus, WithdrawalStatus
from bridge.ledger.transitions import add_record
from bridge.ledger.types import check_amount, normalize_evm_address, utcnow

MAX_WEI = 2**256 - 1


class WithdrawalRepository(TrackedRepository[Withdrawal]):
    """Withdrawals by the Bridge's id; statuses follow `bridge.ledger.states.WITHDRAWAL`."""

    model = Withdrawal

    def record_requested(
        self,
        *,
        withdrawal_id: str,
        sender: str,
        asset: Asset,
        amount: int,
        burned_amount: int,
        bitcoin_address: str,
        sidechain_tx_hash: str,
        sidechain_block: int,
        log_index: int,
    ) -> Withdrawal:
        """The Bridge's withdrawal event: status `requested`. `amount` is what Bitcoin pays
        (sats / Omni units), `burned_amount` what was burned on the sidechain (wei / units)."""
        withdrawal = Withdrawal(
            id=withdrawal_id.lower(),
            sender=normalize_evm_address("sender", sender),
            asset=Asset(asset),
            amount=check_amount("amount", amount, maximum=MAX_SATS),
            burned_amount=check_amount("burned_amount", burned_amount, maximum=MAX_WEI),
            bitcoin_address=bitcoin_address,
            sidechain_tx_hash=sidechain_tx_hash.lower(),
            sidechain_block=sidechain_block,
            log_index=log_index,
            status=WithdrawalStatus.REQUESTED,
        )
        add_record(self._session, withdrawal, detail={"amount": amount, "asset": str(asset)})
        return withdrawal

    def open_window(self, withdrawal_id: str, opened_at: int, closes_at: int) -> Withdrawal:
        """Start the challenge window, counted in Bitcoin heights [opened_at, closes_at]."""
        return self.move(
            withdrawal_id,
            WithdrawalStatus.WINDOW_OPEN,
            changes={"window_opened_at_height": opened_at, "window_closes_at_height": closes_at},
        )

    def windows_closed_by(self, bitcoin_height: int) -> Sequence[Withdrawal]:
        """Withdrawals still `window_open` whose window closes at or before `bitcoin_height`."""
        query = select(Withdrawal).where(
            Withdrawal.status == WithdrawalStatus.WINDOW_OPEN,
            Withdrawal.window_closes_at_height <= bitcoin_height,
        )
        return self._session.scalars(query.order_by(Withdrawal.created_at, Withdrawal.id)).all()

    def mark_refunded(self, withdrawal_id: str, refund_tx_hash: str) -> Withdrawal:
        return self.move(
            withdrawal_id,
            WithdrawalStatus.REFUNDED,
            changes={"refund_tx_hash": refund_tx_hash.lower()},
        )

    def page(
        self,
        *,
        sender: str | None = None,
        bitcoin_address: str | None = None,
        status: WithdrawalStatus | None = None,
        asset: Asset | None = None,
        cursor: str | None = None,
        limit: int = 50,
        newest_first: bool = True,
    ) -> Page[Withdrawal]:
        filters: list[ColumnElement[bool]] = []
        if sender is not None:
            filters.append(Withdrawal.sender == normalize_evm_address("sender", sender))
        if bitcoin_address is not None:
            filters.append(Withdrawal.bitcoin_address == bitcoin_address)
        if status is not None:
            filters.append(Withdrawal.status == WithdrawalStatus(status))
        if asset is not None:
            filters.append(Withdrawal.asset == Asset(asset))
        return self._page(filters, cursor, limit, newest_first)

    def total_amount(self, asset: Asset, statuses: Iterable[WithdrawalStatus]) -> int:
        """Sum of Bitcoin-side amounts (e.g. withdrawals in flight, for the solvency audit)."""
        query = select(func.coalesce(func.sum(Withdrawal.amount), 0)).where(
            Withdrawal.asset == Asset(asset), Withdrawal.status.in_(list(statuses))
        )
        return int(self._session.scalar(query) or 0)


@dataclass(frozen=True)
class ReleasePayment:
    """Output `vout` of a release pays `amount` to withdrawal `withdrawal_id`."""

    withdrawal_id: str
    vout: int
    amount: int


class ReleaseRepository(TrackedRepository[Release]):
    """Release transactions by txid; moving a release also moves the withdrawals it pays."""

    model = Release

    def create(
        self,
        *,
        txid: str,
        payments: Sequence[ReleasePayment],
        fee: int,
        fee_rate: int,
        psbt: str | None = None,
        replaces: str | None = None,
    ) -> Release:
        """A release in `building` paying `payments`; each withdrawal goes `ready -> releasing`.

        With `replaces` (replace-by-fee) the withdrawals are already in a broadcast release and
        keep their status. Every withdrawal is checked before anything is written.
        """
        withdrawals = WithdrawalRepository(self._session)
        paid = [withdrawals.require(payment.withdrawal_id.lower()) for payment in payments]
        for withdrawal in paid:
            allowed = replaces is not None or WITHDRAWAL.allows(
                withdrawal.status, WithdrawalStatus.RELEASING
            )
            if not allowed:
                raise TransitionNotAllowed(
                    "withdrawal", withdrawal.id, withdrawal.status, WithdrawalStatus.RELEASING
                )
        release = Release(
            txid=txid.lower(),
            psbt=psbt,
            fee=check_amount("fee", fee, maximum=MAX_SATS),
            fee_rate=check_amount("fee_rate", fee_rate, maximum=MAX_SATS),
            status=ReleaseStatus.BUILDING,
        )
        add_record(
            self._session,
            release,
            detail={"withdrawals": [w.id for w in paid], "fee": fee, "replaces": replaces},
        )
        for payment, withdrawal in zip(payments, paid, strict=True):
            self._session.add(
                ReleaseOutput(
                    release_txid=release.txid,
                    withdrawal_id=withdrawal.id,
                    vout=payment.vout,
                    amount=check_amount("amount", payment.amount, maximum=MAX_SATS),
                )
            )
            if replaces is None:
                withdrawals.move(
                    withdrawal.id,
                    WithdrawalStatus.RELEASING,
                    changes={"release_txid": release.txid},
                )
        self._session.flush()
        return release

    def outputs(self, txid: str) -> Sequence[ReleaseOutput]:
        query = select(ReleaseOutput).where(ReleaseOutput.release_txid == txid.lower())
        return self._session.scalars(query.order_by(ReleaseOutput.vout)).all()

    def withdrawals(self, txid: str) -> Sequence[Withdrawal]:
        query = (
            select(Withdrawal)
            .join(ReleaseOutput, ReleaseOutput.withdrawal_id == Withdrawal.id)
            .where(ReleaseOutput.release_txid == txid.lower())
            .order_by(ReleaseOutput.vout)
        )
        return self._session.scalars(query).all()

    def mark_broadcast(self, txid: str, *, raw_tx: str, broadcast_height: int) -> Release:
        """Sent to bitcoind: its withdrawals become `released` and point at this txid."""
        release = self.move(
            txid,
            ReleaseStatus.BROADCAST,
            changes={"raw_tx": raw_tx, "broadcast_height": broadcast_height},
        )
        self._move_withdrawals(
            release.txid, WithdrawalStatus.RELEASED, {WithdrawalStatus.RELEASING}
        )
        return release

    def mark_replaced(self, txid: str, by_txid: str) -> Release:
        """A replace-by-fee release `by_txid` was broadcast instead: withdrawals follow it."""
        release = self.move(txid, ReleaseStatus.REPLACED, changes={"replaced_by": by_txid.lower()})
        for withdrawal in self.withdrawals(by_txid):
            withdrawal.release_txid = by_txid.lower()
        return release

    def mark_confirmed(
        self, txid: str, *, block_height: int, block_hash: str, confirmations: int
    ) -> Release:
        """At the confirmation depth: the release and its withdrawals are `confirmed`."""
        release = self.move(
            txid,
            ReleaseStatus.CONFIRMED,
            changes={
                "block_height": block_height,
                "block_hash": block_hash.lower(),
                "confirmations": confirmations,
            },
        )
        self._move_withdrawals(
            release.txid, WithdrawalStatus.CONFIRMED, {WithdrawalStatus.RELEASED}
        )
        return release

    def abandon(self, txid: str, reason: str) -> Release:
        """Never broadcast: its withdrawals go back to `ready` for the next release."""
        release = self.move(txid, ReleaseStatus.ABANDONED, detail={"reason": reason})
        self._move_withdrawals(
            release.txid, WithdrawalStatus.READY, {WithdrawalStatus.RELEASING}, release_txid=None
        )
        return release

    def revive(self, txid: str) -> Release:
        """A spend abandoned here went out after all (another coordinator sent it with the
        other members' signatures): `signed` again, its withdrawals `releasing` through it; a
        spend of this member not sent yet that paid any of them is abandoned (Bitcoin pays
        them with this one)."""
        for withdrawal in self.withdrawals(txid):
            other = withdrawal.release_txid
            if withdrawal.status == WithdrawalStatus.RELEASING and other not in (None, txid):
                self.abandon(other, f"its withdrawals went out in {txid}")
        release = self.move(txid, ReleaseStatus.SIGNED, detail={"revived": True})
        self._move_withdrawals(
            release.txid, WithdrawalStatus.RELEASING, {WithdrawalStatus.READY}, release_txid=txid
        )
        return release

    def untold(self) -> Sequence[Release]:
        """Confirmed releases the Bridge has not been told of yet, oldest first."""
        query = select(Release).where(
            Release.status == ReleaseStatus.CONFIRMED, Release.sidechain_told_at.is_(None)
        )
        return self._session.scalars(query.order_by(Release.created_at, Release.txid)).all()

    def mark_told(self, txid: str) -> Release:
        """The Bridge knows of this release now (`mark_released` for each of its withdrawals)."""
        release = self.require(txid.lower())
        release.sidechain_told_at = utcnow()
        AuditLog(self._session).append("release", release.txid, "told")
        return release

    def set_confirmations(
        self, txid: str, confirmations: int, block_height: int | None, block_hash: str | None
    ) -> Release:
        """Track a broadcast release's depth (not a status change, so not audited)."""
        release = self.require(txid.lower())
        release.confirmations = confirmations
        release.block_height = block_height
        release.block_hash = None if block_hash is None else block_hash.lower()
        return release

    def _move_withdrawals(
        self,
        txid: str,
        to_status: WithdrawalStatus,
        from_statuses: set[WithdrawalStatus],
        **changes: object,
    ) -> None:
        withdrawals = WithdrawalRepository(self._session)
        for withdrawal in self.withdrawals(txid):
            if withdrawal.status in from_statuses:
                withdrawals.move(
                    withdrawal.id, to_status, changes=changes or None, detail={"release": txid}
                )
