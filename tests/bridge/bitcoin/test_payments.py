"""Recognising deposits in a block: which outputs are BTC, which carry USDT, which are refused."""

from bridge.bitcoin.blocks import Block, Transaction, TxOutput
from bridge.bitcoin.omni.indexer import OmniIndexer
from bridge.bitcoin.omni.payload import (
    CreateManagedProperty,
    GrantTokens,
    OmniMessage,
    SimpleSend,
    op_return_script,
)
from bridge.bitcoin.payments import DepositRules, Payment, recognise
from bridge.ledger.states import Asset, RejectReason

DEPOSIT, OTHER_DEPOSIT, ISSUER, STRANGER = "bcrt1dep", "bcrt1dep2", "bcrt1issuer", "bcrt1x"
KNOWN = {DEPOSIT, OTHER_DEPOSIT}
USDT_ID = 3
RULES = DepositRules(usdt_property_id=USDT_ID, min_btc_sats=10_000, min_usdt=100)


def tx(txid: str, sender: str | None, *outputs: tuple[str | None, int, bytes]) -> Transaction:
    return Transaction(
        txid * 32,
        sender,
        tuple(TxOutput(n, value, script, addr) for n, (addr, value, script) in enumerate(outputs)),
    )


def omni(txid: str, sender: str, message: OmniMessage, *receivers: str) -> Transaction:
    outs = [(None, 0, op_return_script(message))] + [(r, 546, b"\x51") for r in receivers]
    return tx(txid, sender, *outs)


def scan(*txs: Transaction) -> list[Payment]:
    """Index a setup block (USDT id 3 with 1,000 units at ISSUER, and property 4), then `txs`."""
    indexer = OmniIndexer(start_height=1)
    setup = (
        omni("01", ISSUER, CreateManagedProperty("USDT")),
        omni("02", ISSUER, GrantTokens(USDT_ID, 1000)),
        omni("03", ISSUER, CreateManagedProperty("Other")),
        omni("04", ISSUER, GrantTokens(4, 1000)),
    )
    indexer.index_block(Block(1, "aa" * 32, "00" * 32, setup))
    block = Block(2, "bb" * 32, "aa" * 32, txs)
    return recognise(block, indexer.index_block(block), KNOWN, RULES)


def test_btc_output_to_a_deposit_address_is_a_btc_deposit():
    (payment,) = scan(tx("10", STRANGER, (DEPOSIT, 25_000, b"\x51"), (STRANGER, 9, b"\x51")))
    assert payment == Payment("10" * 32, 0, DEPOSIT, Asset.BTC, 25_000)


def test_btc_below_minimum_is_recorded_rejected():
    (payment,) = scan(tx("11", STRANGER, (STRANGER, 1, b"\x51"), (DEPOSIT, 9_999, b"\x51")))
    assert (payment.vout, payment.amount) == (1, 9_999)
    assert payment.reject_reason is RejectReason.BELOW_MINIMUM
    assert "9999" in payment.detail


def test_several_outputs_to_deposit_addresses_are_separate_deposits():
    paying = tx("12", STRANGER, (DEPOSIT, 20_000, b"\x51"), (OTHER_DEPOSIT, 30_000, b"\x51"))
    payments = scan(paying)
    assert [(p.address, p.vout, p.amount) for p in payments] == [
        (DEPOSIT, 0, 20_000),
        (OTHER_DEPOSIT, 1, 30_000),
    ]


def test_usdt_send_to_a_deposit_address_is_a_usdt_deposit_not_a_dust_btc_one():
    (payment,) = scan(omni("13", ISSUER, SimpleSend(USDT_ID, 500), DEPOSIT, ISSUER))
    assert payment == Payment("13" * 32, 1, DEPOSIT, Asset.USDT, 500, USDT_ID)


def test_usdt_below_minimum_is_rejected():
    (payment,) = scan(omni("14", ISSUER, SimpleSend(USDT_ID, 99), DEPOSIT))
    assert (payment.asset, payment.amount) == (Asset.USDT, 99)
    assert payment.reject_reason is RejectReason.BELOW_MINIMUM


def test_overspent_usdt_is_rejected_as_invalid_omni():
    (payment,) = scan(omni("15", ISSUER, SimpleSend(USDT_ID, 1001), DEPOSIT))
    assert payment.reject_reason is RejectReason.INVALID_OMNI
    assert payment.amount == 1001


def test_other_property_is_rejected_as_unknown_property():
    (payment,) = scan(omni("16", ISSUER, SimpleSend(4, 500), DEPOSIT))
    assert (payment.reject_reason, payment.omni_property_id) == (RejectReason.UNKNOWN_PROPERTY, 4)


def test_nonexistent_property_is_rejected_as_unknown_property():
    (payment,) = scan(omni("17", ISSUER, SimpleSend(77, 500), DEPOSIT))
    assert payment.reject_reason is RejectReason.UNKNOWN_PROPERTY


def test_omni_message_other_than_a_send_is_rejected_as_invalid_omni():
    (payment,) = scan(omni("18", ISSUER, GrantTokens(USDT_ID, 5), DEPOSIT))
    assert (payment.asset, payment.reject_reason) == (Asset.USDT, RejectReason.INVALID_OMNI)


def test_deposit_address_that_is_not_the_reference_gets_a_btc_deposit():
    # The deposit address pays the Omni tx (it is the sender): its change output is plain BTC.
    (payment,) = scan(
        tx(
            "19",
            DEPOSIT,
            (None, 0, op_return_script(SimpleSend(USDT_ID, 1))),
            (STRANGER, 546, b"\x51"),
            (DEPOSIT, 50_000, b"\x51"),
        )
    )
    assert (payment.asset, payment.vout, payment.amount) == (Asset.BTC, 2, 50_000)


def test_outputs_to_unknown_addresses_are_ignored():
    assert scan(tx("1a", STRANGER, (STRANGER, 50_000, b"\x51"))) == []
