"""Withdrawals through their challenge window, and the releases that pay them on Bitcoin."""

import pytest
from sqlalchemy import func, select

from bridge.ledger import (
    Asset,
    AuditEntry,
    Ledger,
    Release,
    ReleasePayment,
    ReleaseStatus,
    TransitionNotAllowed,
    WithdrawalStatus,
)
from bridge.ledger.testing import SENDER, txid, withdrawal


def _ready(ledger: Ledger, amount: int = 20_000) -> str:
    requested = withdrawal(ledger, amount=amount)
    ledger.withdrawals.open_window(requested.id, opened_at=100, closes_at=106)
    ledger.withdrawals.move(requested.id, WithdrawalStatus.READY)
    return requested.id


def test_a_withdrawal_window_is_recorded_and_found_when_it_closes(ledger: Ledger) -> None:
    early, late = withdrawal(ledger), withdrawal(ledger)
    ledger.withdrawals.open_window(early.id, opened_at=100, closes_at=106)
    ledger.withdrawals.open_window(late.id, opened_at=103, closes_at=109)
    ledger.session.commit()
    assert ledger.withdrawals.windows_closed_by(105) == []
    assert [w.id for w in ledger.withdrawals.windows_closed_by(106)] == [early.id]
    assert [w.id for w in ledger.withdrawals.windows_closed_by(200)] == [early.id, late.id]
    stored = ledger.withdrawals.require(early.id)
    assert (stored.window_opened_at_height, stored.window_closes_at_height) == (100, 106)


def test_a_release_pays_ready_withdrawals_through_to_confirmation(ledger: Ledger) -> None:
    first, second = _ready(ledger, 10_000), _ready(ledger, 30_000)
    payments = [ReleasePayment(first, 0, 10_000), ReleasePayment(second, 1, 30_000)]
    release = ledger.releases.create(
        txid=txid(500), payments=payments, fee=1_200, fee_rate=3_000, psbt="cHNidP8="
    )
    assert {ledger.withdrawals.require(w).status for w in (first, second)} == {
        WithdrawalStatus.RELEASING
    }
    ledger.releases.move(release.txid, ReleaseStatus.SIGNING)
    ledger.releases.move(release.txid, ReleaseStatus.SIGNED)
    ledger.releases.mark_broadcast(release.txid, raw_tx="0200", broadcast_height=110)
    assert ledger.withdrawals.require(first).status == WithdrawalStatus.RELEASED
    ledger.releases.set_confirmations(release.txid, 3, 111, "CC" * 32)
    ledger.releases.mark_confirmed(
        release.txid, block_height=111, block_hash="cc" * 32, confirmations=6
    )
    ledger.session.commit()

    stored = ledger.releases.require(release.txid)
    assert (stored.status, stored.confirmations, stored.raw_tx) == (
        ReleaseStatus.CONFIRMED,
        6,
        "0200",
    )
    assert [(o.withdrawal_id, o.vout, o.amount) for o in ledger.releases.outputs(release.txid)] == [
        (first, 0, 10_000),
        (second, 1, 30_000),
    ]
    for withdrawal_id in (first, second):
        paid = ledger.withdrawals.require(withdrawal_id)
        assert (paid.status, paid.release_txid) == (WithdrawalStatus.CONFIRMED, release.txid)
        history = [e.to_status for e in ledger.audit.for_record("withdrawal", withdrawal_id)]
        assert history == [
            "requested",
            "window_open",
            "ready",
            "releasing",
            "released",
            "confirmed",
        ]


def test_a_release_of_a_withdrawal_still_in_its_window_writes_nothing(ledger: Ledger) -> None:
    ready = _ready(ledger)
    in_window = withdrawal(ledger)
    ledger.withdrawals.open_window(in_window.id, opened_at=100, closes_at=106)
    ledger.session.commit()
    audit_before = ledger.session.scalar(select(func.count()).select_from(AuditEntry))
    with pytest.raises(TransitionNotAllowed) as refused:
        ledger.releases.create(
            txid=txid(501),
            payments=[ReleasePayment(ready, 0, 20_000), ReleasePayment(in_window.id, 1, 20_000)],
            fee=500,
            fee_rate=1_000,
        )
    assert (refused.value.record_id, refused.value.from_status) == (in_window.id, "window_open")
    ledger.session.commit()
    assert ledger.session.scalar(select(func.count()).select_from(Release)) == 0
    assert ledger.session.scalar(select(func.count()).select_from(AuditEntry)) == audit_before
    assert ledger.withdrawals.require(ready).status == WithdrawalStatus.READY


def test_an_abandoned_release_returns_its_withdrawals_to_ready(ledger: Ledger) -> None:
    ready = _ready(ledger)
    release = ledger.releases.create(
        txid=txid(502), payments=[ReleasePayment(ready, 0, 20_000)], fee=500, fee_rate=1_000
    )
    ledger.releases.move(release.txid, ReleaseStatus.SIGNING)
    ledger.releases.abandon(release.txid, "member 2 refused to sign")
    ledger.session.commit()
    back = ledger.withdrawals.require(ready)
    assert (back.status, back.release_txid) == (WithdrawalStatus.READY, None)
    assert ledger.releases.require(release.txid).status == ReleaseStatus.ABANDONED


def test_an_abandoned_release_sent_after_all_takes_its_withdrawals_back(ledger: Ledger) -> None:
    """Another coordinator sent it with the others' signatures: the withdrawals leave the spend
    this member built meanwhile (abandoned) and are paid by the revived one."""
    ready = _ready(ledger)
    sent = ledger.releases.create(
        txid=txid(505), payments=[ReleasePayment(ready, 0, 20_000)], fee=500, fee_rate=1_000
    )
    ledger.releases.move(sent.txid, ReleaseStatus.SIGNING)
    ledger.releases.abandon(sent.txid, "peers refused")
    rebuilt = ledger.releases.create(
        txid=txid(506), payments=[ReleasePayment(ready, 0, 20_000)], fee=500, fee_rate=1_000
    )
    ledger.releases.revive(sent.txid)
    ledger.releases.mark_broadcast(sent.txid, raw_tx="01", broadcast_height=130)
    ledger.session.commit()
    paid = ledger.withdrawals.require(ready)
    assert (paid.status, paid.release_txid) == (WithdrawalStatus.RELEASED, sent.txid)
    assert ledger.releases.require(rebuilt.txid).status == ReleaseStatus.ABANDONED
    assert ledger.releases.require(sent.txid).status == ReleaseStatus.BROADCAST


def test_a_replace_by_fee_release_takes_over_the_withdrawals(ledger: Ledger) -> None:
    ready = _ready(ledger)
    stuck = ledger.releases.create(
        txid=txid(503), payments=[ReleasePayment(ready, 0, 20_000)], fee=200, fee_rate=1_000
    )
    for status in (ReleaseStatus.SIGNING, ReleaseStatus.SIGNED):
        ledger.releases.move(stuck.txid, status)
    ledger.releases.mark_broadcast(stuck.txid, raw_tx="01", broadcast_height=120)
    bumped = ledger.releases.create(
        txid=txid(504),
        payments=[ReleasePayment(ready, 0, 20_000)],
        fee=800,
        fee_rate=4_000,
        replaces=stuck.txid,
    )
    for status in (ReleaseStatus.SIGNING, ReleaseStatus.SIGNED):
        ledger.releases.move(bumped.txid, status)
    ledger.releases.mark_broadcast(bumped.txid, raw_tx="02", broadcast_height=123)
    ledger.releases.mark_replaced(stuck.txid, by_txid=bumped.txid)
    ledger.session.commit()
    paid = ledger.withdrawals.require(ready)
    assert (paid.status, paid.release_txid) == (WithdrawalStatus.RELEASED, bumped.txid)
    old = ledger.releases.require(stuck.txid)
    assert (old.status, old.replaced_by) == (ReleaseStatus.REPLACED, bumped.txid)
    assert [w.id for w in ledger.releases.withdrawals(bumped.txid)] == [ready]


def test_a_challenged_withdrawal_can_be_refunded_on_the_sidechain(ledger: Ledger) -> None:
    requested = withdrawal(ledger)
    ledger.withdrawals.open_window(requested.id, opened_at=1, closes_at=7)
    ledger.withdrawals.move(requested.id, WithdrawalStatus.CHALLENGED)
    ledger.withdrawals.mark_refunded(requested.id, "0x" + "AA" * 32)
    ledger.session.commit()
    refunded = ledger.withdrawals.require(requested.id)
    assert (refunded.status, refunded.refund_tx_hash) == (
        WithdrawalStatus.REFUNDED,
        "0x" + "aa" * 32,
    )


def test_withdrawals_are_found_by_sender_address_status_and_asset(ledger: Ledger) -> None:
    first, second = withdrawal(ledger), withdrawal(ledger)
    ledger.withdrawals.open_window(second.id, opened_at=1, closes_at=2)
    ledger.session.commit()

    def ids(**filters: object) -> list[str]:
        return [w.id for w in ledger.withdrawals.page(**filters).items]  # type: ignore[arg-type]

    assert ids(sender=SENDER.upper().replace("0X", "0x")) == [second.id, first.id]
    assert ids(status=WithdrawalStatus.WINDOW_OPEN) == [second.id]
    assert ids(bitcoin_address="bcrt1qwithdrawal", asset=Asset.USDT) == []
    in_flight = [WithdrawalStatus.REQUESTED, WithdrawalStatus.WINDOW_OPEN]
    assert ledger.withdrawals.total_amount(Asset.BTC, in_flight) == 40_000
