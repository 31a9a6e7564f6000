"""Deposits and deposit addresses: recording, rejection, minting, reorgs and API queries."""

import dataclasses

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bridge.ledger import (
    Asset,
    AuditEntry,
    Deposit,
    DepositStatus,
    DuplicateRecord,
    InvalidAmount,
    InvalidEvmAddress,
    Ledger,
    RecordNotFound,
    RejectReason,
    SeenPayment,
    deposit_id,
)
from bridge.ledger.testing import ADDRESS, RECIPIENT, SCRIPT, deposit, txid

OTHER_RECIPIENT = "0x" + "cd" * 20


def _seen(ledger: Ledger, n: int, **overrides: object) -> Deposit:
    fields: dict[str, object] = {
        "txid": txid(n),
        "vout": 1,
        "asset": Asset.BTC,
        "amount": 100_000,
        "deposit_address": ADDRESS,
        "block_height": 200,
        "block_hash": "AB" * 32,
        "confirmations": 1,
    }
    fields.update(overrides)
    return ledger.deposits.record_seen(**fields)  # type: ignore[arg-type]


def test_a_deposit_takes_its_recipient_from_its_deposit_address(
    ledger: Ledger, deposit_address: object
) -> None:
    recorded = _seen(ledger, 1)
    ledger.session.commit()
    assert recorded.id == f"{txid(1)}:1" == deposit_id(txid(1).upper(), 1)
    assert recorded.recipient == RECIPIENT
    assert recorded.block_hash == "ab" * 32
    assert recorded.status == DepositStatus.SEEN
    history = ledger.audit.for_record("deposit", recorded.id)
    assert [(entry.action, entry.to_status) for entry in history] == [("created", "seen")]


def test_a_payment_to_an_unknown_address_is_refused(ledger: Ledger) -> None:
    with pytest.raises(RecordNotFound, match="deposit_address"):
        _seen(ledger, 1, deposit_address="bcrt1qunknown")


def test_recording_the_same_outpoint_twice_is_a_duplicate(
    ledger: Ledger, deposit_address: object
) -> None:
    _seen(ledger, 1)
    ledger.session.commit()
    with pytest.raises(DuplicateRecord, match=f"{txid(1)}:1"):
        _seen(ledger, 1, amount=5)


@pytest.mark.parametrize("amount", [1.5, -1, True, "100", 2**63])
def test_an_amount_that_is_not_a_base_unit_int_is_refused_and_nothing_is_written(
    ledger: Ledger, deposit_address: object, amount: object
) -> None:
    with pytest.raises(InvalidAmount) as refused:
        _seen(ledger, 1, amount=amount)
    assert refused.value.value == amount
    ledger.session.commit()
    assert ledger.session.scalar(select(func.count()).select_from(Deposit)) == 0


def _payment(n: int, address: str = ADDRESS) -> SeenPayment:
    return SeenPayment(
        txid=txid(n),
        vout=0,
        asset=Asset.BTC,
        amount=10_000 + n,
        deposit_address=address,
        block_height=500,
        block_hash="ee" * 32,
        confirmations=1,
    )


def test_a_block_of_payments_is_recorded_in_one_batch_with_an_audit_entry_each(
    ledger: Ledger, deposit_address: object
) -> None:
    recorded = ledger.deposits.record_many([_payment(n) for n in range(1_200)])
    ledger.session.commit()
    assert len(recorded) == 1_200
    assert ledger.deposits.total_amount(Asset.BTC, [DepositStatus.SEEN]) == sum(
        10_000 + n for n in range(1_200)
    )
    assert ledger.session.scalar(select(func.count()).select_from(AuditEntry)) == 1_200 + 1


@pytest.mark.parametrize(
    "payments",
    [
        [_payment(1), _payment(2), _payment(1)],
        [_payment(1), _payment(2, address="bcrt1qunknown")],
        [_payment(1), dataclasses.replace(_payment(2), amount=0.5)],
    ],
    ids=["repeated-outpoint", "unknown-address", "float-amount"],
)
def test_a_batch_with_one_bad_payment_writes_nothing(
    ledger: Ledger, deposit_address: object, payments: list[SeenPayment]
) -> None:
    audit_before = ledger.session.scalar(select(func.count()).select_from(AuditEntry))
    with pytest.raises((DuplicateRecord, RecordNotFound, InvalidAmount)):
        ledger.deposits.record_many(payments)
    ledger.session.commit()
    assert ledger.session.scalar(select(func.count()).select_from(Deposit)) == 0
    assert ledger.session.scalar(select(func.count()).select_from(AuditEntry)) == audit_before


def test_a_batch_repeating_a_stored_outpoint_writes_nothing(
    ledger: Ledger, deposit_address: object
) -> None:
    ledger.deposits.record_many([_payment(7)])
    ledger.session.commit()
    with pytest.raises(DuplicateRecord, match=f"{txid(7)}:0"):
        ledger.deposits.record_many([_payment(8), _payment(7)])
    ledger.session.commit()
    assert ledger.session.scalar(select(func.count()).select_from(Deposit)) == 1


def test_a_deposit_address_given_again_is_returned_and_a_conflicting_one_is_refused(
    ledger: Ledger,
) -> None:
    first = ledger.deposit_addresses.add(ADDRESS, SCRIPT.upper(), "0x" + "AB" * 20)
    again = ledger.deposit_addresses.add(ADDRESS, SCRIPT, RECIPIENT)
    assert again is first
    with pytest.raises(DuplicateRecord):
        ledger.deposit_addresses.add(ADDRESS, SCRIPT, OTHER_RECIPIENT)
    with pytest.raises(InvalidEvmAddress, match="0x1234"):
        ledger.deposit_addresses.add("bcrt1qother", SCRIPT, "0x1234")
    ledger.deposit_addresses.add("bcrt1qsecond", SCRIPT, RECIPIENT, refund_pubkey="02" + "11" * 32)
    ledger.session.commit()
    assert ledger.deposit_addresses.addresses() == {ADDRESS, "bcrt1qsecond"}
    assert [a.address for a in ledger.deposit_addresses.by_recipient(RECIPIENT)] == [
        ADDRESS,
        "bcrt1qsecond",
    ]


def test_a_rejected_deposit_keeps_its_reason(ledger: Ledger, deposit_address: object) -> None:
    recorded = _seen(ledger, 1, amount=10)
    ledger.deposits.reject(recorded.id, RejectReason.BELOW_MINIMUM, "10 < 10000 sats")
    ledger.session.commit()
    stored = ledger.deposits.require(recorded.id)
    assert stored.status == DepositStatus.REJECTED
    assert stored.reject_reason == RejectReason.BELOW_MINIMUM
    (_, rejection) = ledger.audit.for_record("deposit", recorded.id)
    assert rejection.detail == {
        "message": "10 < 10000 sats",
        "changes": {"reject_reason": "below_minimum"},
    }


def test_a_minted_deposit_records_its_mint_transaction(
    ledger: Ledger, deposit_address: object
) -> None:
    recorded = _seen(ledger, 1)
    ledger.deposits.set_confirmations(recorded.id, 6)
    ledger.deposits.move(recorded.id, DepositStatus.CONFIRMED)
    ledger.deposits.move(recorded.id, DepositStatus.ATTESTED)
    ledger.deposits.mark_minted(recorded.id, "0x" + "EF" * 32, 77)
    ledger.session.commit()
    stored = ledger.deposits.require(recorded.id)
    assert (stored.status, stored.mint_tx_hash, stored.mint_block, stored.confirmations) == (
        DepositStatus.MINTED,
        "0x" + "ef" * 32,
        77,
        6,
    )
    statuses = [entry.to_status for entry in ledger.audit.for_record("deposit", recorded.id)]
    assert statuses == ["seen", "confirmed", "attested", "minted"]


def test_a_reorged_deposit_comes_back_in_its_new_block(
    ledger: Ledger, deposit_address: object
) -> None:
    old_block, new_block = "01" * 32, "02" * 32
    recorded = _seen(ledger, 1, block_hash=old_block, block_height=300)
    untouched = _seen(ledger, 2, block_hash="03" * 32, block_height=299)
    ledger.session.commit()
    assert [d.id for d in ledger.deposits.in_blocks([old_block.upper()])] == [recorded.id]
    ledger.deposits.move(recorded.id, DepositStatus.REORGED)
    ledger.deposits.restore(recorded.id, block_height=301, block_hash=new_block, confirmations=1)
    ledger.session.commit()
    stored = ledger.deposits.require(recorded.id)
    assert (stored.status, stored.block_height, stored.block_hash) == (
        DepositStatus.SEEN,
        301,
        new_block,
    )
    assert ledger.deposits.require(untouched.id).status == DepositStatus.SEEN
    assert ledger.deposits.in_blocks([old_block]) == []


def test_deposits_are_found_by_recipient_address_status_and_asset(
    ledger: Ledger, deposit_address: object
) -> None:
    ledger.deposit_addresses.add("bcrt1qother", SCRIPT, OTHER_RECIPIENT)
    mine_btc = _seen(ledger, 1)
    mine_usdt = _seen(ledger, 2, asset=Asset.USDT, omni_property_id=31)
    theirs = _seen(ledger, 3, deposit_address="bcrt1qother")
    ledger.deposits.reject(mine_usdt.id, RejectReason.INVALID_OMNI)
    ledger.session.commit()

    def ids(**filters: object) -> list[str]:
        return [d.id for d in ledger.deposits.page(**filters).items]  # type: ignore[arg-type]

    assert ids(recipient="0x" + "AB" * 20) == [mine_usdt.id, mine_btc.id]
    assert ids(deposit_address="bcrt1qother") == [theirs.id]
    assert ids(status=DepositStatus.REJECTED) == [mine_usdt.id]
    assert ids(asset=Asset.BTC, recipient=RECIPIENT) == [mine_btc.id]
    assert ids(asset=Asset.USDT, status=DepositStatus.SEEN) == []
    assert ledger.deposits.require(mine_usdt.id).omni_property_id == 31
    assert [d.id for d in ledger.deposits.with_status(DepositStatus.SEEN)] == [
        mine_btc.id,
        theirs.id,
    ]
    assert ledger.deposits.count_by_status() == {"seen": 2, "rejected": 1}


def test_total_amount_sums_exactly_per_asset_and_status(ledger: Ledger) -> None:
    amounts = [2_100_000_000_000_000, 2_100_000_000_000_000, 1, 9_999]
    for amount in amounts:
        deposit(ledger, amount=amount)
    deposit(ledger, amount=123, asset=Asset.USDT)
    ledger.session.commit()
    seen = [DepositStatus.SEEN]
    assert ledger.deposits.total_amount(Asset.BTC, seen) == sum(amounts)
    assert ledger.deposits.total_amount(Asset.USDT, seen) == 123
    assert ledger.deposits.total_amount(Asset.BTC, [DepositStatus.MINTED]) == 0


def test_a_refused_transition_leaves_the_session_usable(session: Session) -> None:
    ledger = Ledger(session)
    recorded = deposit(ledger)
    session.commit()
    audit_before = session.scalar(select(func.count()).select_from(AuditEntry))
    with pytest.raises(Exception, match="seen -> minted is not allowed"):
        ledger.deposits.mark_minted(recorded.id, "0x" + "11" * 32, 5)
    ledger.deposits.move(recorded.id, DepositStatus.CONFIRMED)
    session.commit()
    stored = ledger.deposits.require(recorded.id)
    assert (stored.status, stored.mint_tx_hash) == (DepositStatus.CONFIRMED, None)
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == audit_before + 1


def test_an_address_stored_meanwhile_by_another_process_is_not_an_error(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API and a relayer learning the address from a peer may store it at once: the one
    that finds it already inserted keeps the row, audited once."""
    ledger.deposit_addresses.add(ADDRESS, SCRIPT, RECIPIENT)
    ledger.session.commit()
    real_get = ledger.deposit_addresses.get
    seen: list[str] = []

    def first_time_absent(address: str) -> object:
        seen.append(address)
        return None if len(seen) == 1 else real_get(address)

    monkeypatch.setattr(ledger.deposit_addresses, "get", first_time_absent)
    row = ledger.deposit_addresses.add(ADDRESS, SCRIPT, RECIPIENT.upper().replace("0X", "0x"))
    ledger.session.commit()
    assert row.address == ADDRESS and len(seen) == 2
    assert [e.action for e in ledger.audit.for_record("deposit_address", ADDRESS)] == ["created"]
    with pytest.raises(DuplicateRecord):
        ledger.deposit_addresses.add(ADDRESS, SCRIPT, "0x" + "cd" * 20)
