"""Recognising deposits in a block: which outputs are BTC, which carry USDT, which are refused."""

from dataclasses import replace

from coincurve import PrivateKey

from bridge.bitcoin.blocks import Block, Transaction, TxOutput
from bridge.bitcoin.deposit_script import DepositScript
from bridge.bitcoin.omni.indexer import OmniIndexer
from bridge.bitcoin.omni.payload import (
    CreateManagedProperty,
    GrantTokens,
    OmniMessage,
    SimpleSend,
    op_return_script,
)
from bridge.bitcoin.payments import DepositRules, Federation, Payment, recognise
from bridge.ledger.states import Asset, RejectReason

FEDERATION = [PrivateKey.from_int(n).public_key.format() for n in (11, 12, 13)]
SCRIPTS = [DepositScript.create(f"0x{n:040x}", FEDERATION, 2) for n in (1, 2)]
DEPOSIT, OTHER_DEPOSIT = (script.address("regtest") for script in SCRIPTS)
ISSUER, STRANGER = "bcrt1issuer", "bcrt1x"
KNOWN = {script.address("regtest"): script.witness_script for script in SCRIPTS}
USDT_ID = 3
RULES = DepositRules(usdt_property_id=USDT_ID, min_btc_sats=10_000, min_usdt=100)


def script_of(address: str | None) -> bytes:
    """What an output paying `address` carries: a deposit address's P2WSH, else OP_TRUE."""
    known = {script.address("regtest"): script.script_pubkey for script in SCRIPTS}
    return known.get(address or "", b"\x51")


def tx(txid: str, sender: str | None, *outputs: tuple[str | None, int] | tuple) -> Transaction:
    """Outputs are (address, sats) or, for a script of its own, (address, sats, script)."""
    return Transaction(
        txid * 32,
        sender,
        tuple(
            TxOutput(n, out[1], out[2] if len(out) == 3 else script_of(out[0]), out[0])
            for n, out in enumerate(outputs)
        ),
    )


def omni(txid: str, sender: str, message: OmniMessage, *receivers: str) -> Transaction:
    outs = [(None, 0, op_return_script(message))] + [(r, 546) for r in receivers]
    return tx(txid, sender, *outs)


def scan(*txs: Transaction, known=KNOWN, rules=RULES) -> list[Payment]:
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
    return recognise(block, indexer.index_block(block), known, rules)


def test_btc_output_to_a_deposit_address_is_a_btc_deposit():
    (payment,) = scan(tx("10", STRANGER, (DEPOSIT, 25_000), (STRANGER, 9)))
    assert payment == Payment("10" * 32, 0, DEPOSIT, Asset.BTC, 25_000)


def test_btc_below_minimum_is_recorded_rejected():
    (payment,) = scan(tx("11", STRANGER, (STRANGER, 1), (DEPOSIT, 9_999)))
    assert (payment.vout, payment.amount) == (1, 9_999)
    assert payment.reject_reason is RejectReason.BELOW_MINIMUM
    assert "9999" in payment.detail


def test_several_outputs_to_deposit_addresses_are_separate_deposits():
    paying = tx("12", STRANGER, (DEPOSIT, 20_000), (OTHER_DEPOSIT, 30_000))
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
            (STRANGER, 546),
            (DEPOSIT, 50_000),
        )
    )
    assert (payment.asset, payment.vout, payment.amount) == (Asset.BTC, 2, 50_000)


def test_outputs_to_unknown_addresses_are_ignored():
    assert scan(tx("1a", STRANGER, (STRANGER, 50_000))) == []


def test_a_payment_to_an_address_of_another_federation_has_a_bad_script():
    """The rules name the federation of today; an address made for another one (an earlier
    key set, another threshold) pays coins it cannot sweep."""
    today = Federation(frozenset(FEDERATION), 2)
    rules = replace(RULES, federation=today)
    replaced = PrivateKey.from_int(14).public_key.format()
    older = DepositScript.create("0x" + "03" * 20, [*FEDERATION[:2], replaced], 2)
    other_threshold = DepositScript.create("0x" + "04" * 20, FEDERATION, 3)
    known = {**KNOWN}
    known.update({s.address("regtest"): s.witness_script for s in (older, other_threshold)})
    paying = tx(
        "20",
        STRANGER,
        (DEPOSIT, 20_000),
        (older.address("regtest"), 20_000, older.script_pubkey),
        (other_threshold.address("regtest"), 20_000, other_threshold.script_pubkey),
    )
    fine, *bad = scan(paying, known=known, rules=rules)
    assert fine.reject_reason is None
    assert [p.reject_reason for p in bad] == [RejectReason.BAD_SCRIPT] * 2
    assert "2-of-3 federation that is not the bridge's current one" in bad[0].detail
    assert "3-of-3" in bad[1].detail


def test_an_output_that_is_not_the_p2wsh_of_the_kept_script_has_a_bad_script():
    """The ledger's script for the address does not hash to what the output pays."""
    known = {DEPOSIT: SCRIPTS[1].witness_script, OTHER_DEPOSIT: KNOWN[OTHER_DEPOSIT]}
    (payment,) = scan(tx("21", STRANGER, (DEPOSIT, 20_000)), known=known)
    assert payment.reject_reason is RejectReason.BAD_SCRIPT
    assert "not the P2WSH" in payment.detail


def test_a_kept_script_that_is_no_deposit_script_is_a_bad_script_even_below_the_minimum():
    known = {DEPOSIT: b"\x51", OTHER_DEPOSIT: KNOWN[OTHER_DEPOSIT]}
    (payment,) = scan(tx("22", STRANGER, (DEPOSIT, 5)), known=known)
    assert payment.reject_reason is RejectReason.BAD_SCRIPT
    assert "not a deposit script" in payment.detail
