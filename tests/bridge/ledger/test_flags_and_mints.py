"""The bridge's pause flag, the told mark of a release, and the Bridge's mints as read."""

import pytest

from bridge.ledger import (
    MAX_REASON_CHARS,
    Asset,
    DepositStatus,
    Ledger,
    PauseReasonTooLong,
    ReleaseStatus,
)
from bridge.ledger.testing import RECIPIENT, deposit, release


def test_the_bridge_runs_until_paused_and_every_change_is_audited(ledger: Ledger) -> None:
    assert ledger.pause.state().paused is False and ledger.pause.state().since is None
    paused = ledger.pause.set(True, "reorg drill")
    assert (paused.paused, paused.reason) == (True, "reorg drill")
    assert paused.since is not None
    resumed = ledger.pause.set(False, None)
    ledger.session.commit()
    assert (resumed.paused, resumed.reason) == (False, None)
    history = ledger.audit.for_record("bridge", "bridge")
    assert [(e.action, (e.detail or {}).get("reason")) for e in history] == [
        ("paused", "reorg drill"),
        ("resumed", None),
    ]


def test_a_pause_reason_longer_than_the_ledger_keeps_is_refused(ledger: Ledger) -> None:
    with pytest.raises(PauseReasonTooLong, match=f"at most {MAX_REASON_CHARS}"):
        ledger.pause.set(True, "x" * (MAX_REASON_CHARS + 1))
    assert ledger.pause.state().paused is False


def test_a_confirmed_release_is_untold_until_marked(ledger: Ledger) -> None:
    spend = release(ledger)
    for status in (ReleaseStatus.SIGNING, ReleaseStatus.SIGNED):
        ledger.releases.move(spend.txid, status)
    ledger.releases.mark_broadcast(spend.txid, raw_tx="02", broadcast_height=10)
    assert ledger.releases.untold() == []  # broadcast, not yet confirmed
    ledger.releases.mark_confirmed(
        spend.txid, block_height=11, block_hash="aa" * 32, confirmations=6
    )
    assert [r.txid for r in ledger.releases.untold()] == [spend.txid]
    ledger.releases.mark_told(spend.txid)
    ledger.session.commit()
    assert ledger.releases.untold() == []
    assert ledger.releases.require(spend.txid).sidechain_told_at is not None
    assert ledger.audit.for_record("release", spend.txid)[-1].action == "told"


def test_a_mint_is_kept_until_its_deposit_reaches_the_depth(ledger: Ledger) -> None:
    early = deposit(ledger, amount=70_000)
    ledger.mints.record(
        deposit_id=early.id,
        asset=Asset.BTC,
        amount=70_000,
        recipient=RECIPIENT.upper().replace("0X", "0x"),
        tx_hash="0x" + "AB" * 32,
        block_number=9,
    )
    again = ledger.mints.record(
        deposit_id=early.id,
        asset=Asset.BTC,
        amount=70_000,
        recipient=RECIPIENT,
        tx_hash="0x" + "ab" * 32,
        block_number=9,
    )
    assert again.tx_hash == "0x" + "ab" * 32 and again.recipient == RECIPIENT
    assert ledger.mints.awaiting() == []  # still `seen` here
    ledger.deposits.move(early.id, DepositStatus.CONFIRMED)
    ledger.session.commit()
    ((found, mint),) = ledger.mints.awaiting()
    assert (found.id, mint.block_number, mint.amount) == (early.id, 9, 70_000)
