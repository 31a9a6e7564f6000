"""Spending deposits: m federation signatures confirm; the refund waits for its CSV timeout."""

from decimal import Decimal

import pytest
from bitcoin.core import CMutableTransaction, COutPoint, CTxIn, CTxInWitness, CTxOut, CTxWitness, lx
from bitcoin.core.script import CScript, CScriptWitness
from coincurve import PrivateKey

from bridge.bitcoin.blocks import to_sats
from bridge.bitcoin.deposit_script import DepositScript
from bridge.bitcoin.deposit_spend import (
    build_refund,
    federation_witness,
    sign_digest,
    sign_federation_input,
    signature_hash,
)
from bridge.bitcoin.errors import BitcoinRPCError
from bridge.bitcoin.omni.errors import InsufficientFunds
from bridge.bitcoin.omni.payload import SimpleSend, op_return_script
from bridge.bitcoin.omni.transactions import DUST_SATS, REFERENCE_SATS, omni_transaction
from bridge.bitcoin.script_errors import (
    FeeTooHigh,
    NoRefundBranch,
    NotEnoughSignatures,
    NotTheRefundKey,
    UnknownSigner,
)
from regtest.node import BitcoindNode
from regtest.omni import issue_usdt, omni_state, send_usdt

MEMBERS = [PrivateKey.from_int(n) for n in (11, 12, 13)]
DEPOSITOR = PrivateKey.from_int(21)
RECIPIENT = "0x" + "cd" * 20
FEE = 1_000
USDT = 100_000_000


def deposit_script(timeout: int | None = None) -> DepositScript:
    refund = DEPOSITOR.public_key.format() if timeout else None
    keys = [key.public_key.format() for key in MEMBERS]
    return DepositScript.create(RECIPIENT, keys, 2, refund_key=refund, timeout=timeout)


def pay(node: BitcoindNode, deposit: DepositScript, btc: str) -> tuple[COutPoint, int]:
    """Pay the deposit address from the wallet and mine it; the outpoint and its amount."""
    address = deposit.address("regtest")
    txid = node.fund(address, btc)
    node.mine(1)
    outputs = node.getrawtransaction(txid, True)["vout"]
    (out,) = (o for o in outputs if o["scriptPubKey"].get("address") == address)
    return COutPoint(lx(txid), out["n"]), to_sats(out["value"])


def wallet_script(node: BitcoindNode) -> bytes:
    return bytes.fromhex(node.getaddressinfo(node.new_address())["scriptPubKey"])


def spend_tx(outpoint: COutPoint, amount: int, destination: bytes) -> CMutableTransaction:
    return CMutableTransaction([CTxIn(outpoint)], [CTxOut(amount - FEE, CScript(destination))])


def test_bitcoind_derives_the_same_p2wsh_address(bitcoind: BitcoindNode):
    for deposit in (deposit_script(), deposit_script(timeout=144)):
        decoded = bitcoind.decodescript(deposit.witness_script.hex())
        assert decoded["segwit"]["address"] == deposit.address("regtest")


@pytest.mark.parametrize("timeout", [None, 10])
def test_deposit_spent_by_m_federation_signatures_confirms(bitcoind: BitcoindNode, timeout):
    deposit = deposit_script(timeout)
    outpoint, amount = pay(bitcoind, deposit, "0.25")
    tx = spend_tx(outpoint, amount, wallet_script(bitcoind))
    sign_federation_input(tx, 0, amount, deposit, [MEMBERS[2], MEMBERS[0]])
    txid = bitcoind.send_raw(tx.serialize().hex())
    bitcoind.mine(1)
    assert bitcoind.getrawtransaction(txid, True)["confirmations"] == 1


def test_signatures_out_of_key_order_are_rejected_by_bitcoind(bitcoind: BitcoindNode):
    """CHECKMULTISIG walks keys and signatures in step: the witness must follow key order."""
    deposit = deposit_script()
    outpoint, amount = pay(bitcoind, deposit, "0.01")
    tx = spend_tx(outpoint, amount, wallet_script(bitcoind))
    digest = signature_hash(tx, 0, amount, deposit)
    by_key = {key.public_key.format(): key for key in MEMBERS}
    first, second = (sign_digest(digest, by_key[k]) for k in deposit.federation_keys[:2])
    swapped = CScriptWitness([b"", second, first, deposit.witness_script])
    tx.wit = CTxWitness([CTxInWitness(swapped)])
    with pytest.raises(BitcoinRPCError, match="script-verify") as raised:
        bitcoind.send_raw(tx.serialize().hex())
    assert raised.value.code == -26


def test_refund_before_timeout_is_non_final_and_after_it_confirms(bitcoind: BitcoindNode):
    timeout = 5
    deposit = deposit_script(timeout)
    outpoint, amount = pay(bitcoind, deposit, "0.1")  # 1 confirmation
    refund = build_refund(outpoint, amount, deposit, DEPOSITOR, wallet_script(bitcoind), FEE)
    assert refund.nVersion == 2 and refund.vin[0].nSequence == timeout
    bitcoind.mine(timeout - 2)  # timeout - 1 confirmations: the next block is still too early
    with pytest.raises(BitcoinRPCError, match="non-BIP68-final") as raised:
        bitcoind.send_raw(refund.serialize().hex())
    assert raised.value.code == -26
    bitcoind.mine(1)  # the next block would be the timeout-th confirmation's child
    txid = bitcoind.send_raw(refund.serialize().hex())
    bitcoind.mine(1)
    assert bitcoind.getrawtransaction(txid, True)["confirmations"] == 1
    paid = bitcoind.getrawtransaction(txid, True)["vout"][0]["value"]
    assert to_sats(paid) == amount - FEE


def test_usdt_refund_after_the_timeout_brings_the_tokens_to_the_refund_address(
    bitcoind: BitcoindNode,
):
    """A USDT deposit's tokens sit at the deposit address: the refund spends the deposit's
    reference output (so the deposit address sends) with a simple send of those tokens to the
    refund address, and the Omni rules credit them there."""
    node, timeout = bitcoind, 3
    deposit = deposit_script(timeout)
    address = deposit.address("regtest")
    property_id = issue_usdt(node, 50 * USDT)
    txid = send_usdt(node, address, 7 * USDT, property_id=property_id)
    node.mine(1)
    reference = node.getrawtransaction(txid, True)["vout"][1]
    assert reference["scriptPubKey"]["address"] == address
    assert omni_state(node).balance(address, property_id) == 7 * USDT
    refund_address = node.new_address()
    refund = build_refund(
        COutPoint(lx(txid), 1),
        to_sats(reference["value"]),
        deposit,
        DEPOSITOR,
        bytes.fromhex(node.getaddressinfo(refund_address)["scriptPubKey"]),
        300,
        tokens=SimpleSend(property_id, 7 * USDT),
    )
    node.mine(timeout - 1)  # the deposit now has `timeout` confirmations
    node.send_raw(refund.serialize().hex())
    node.mine(1)
    state = omni_state(node)
    assert state.balance(refund_address, property_id) == 7 * USDT
    assert state.balance(address, property_id) == 0
    assert state.result(refund.GetTxid()[::-1].hex()).valid


def test_witness_orders_signatures_by_sorted_key():
    deposit = deposit_script()
    tx = spend_tx(COutPoint(b"\x01" * 32, 0), 50_000, b"\x00\x14" + b"\x02" * 20)
    digest = signature_hash(tx, 0, 50_000, deposit)
    signatures = {key.public_key.format(): sign_digest(digest, key) for key in MEMBERS}
    witness = list(federation_witness(deposit, digest, signatures))
    first_two = deposit.federation_keys[:2]
    assert witness == [
        b"",
        signatures[first_two[0]],
        signatures[first_two[1]],
        deposit.witness_script,
    ]


def test_refundable_witness_selects_the_multisig_branch():
    deposit = deposit_script(timeout=10)
    tx = spend_tx(COutPoint(b"\x01" * 32, 0), 50_000, b"\x00\x14" + b"\x02" * 20)
    digest = signature_hash(tx, 0, 50_000, deposit)
    signatures = {key.public_key.format(): sign_digest(digest, key) for key in MEMBERS[:2]}
    witness = list(federation_witness(deposit, digest, signatures))
    assert witness[-2:] == [b"\x01", deposit.witness_script]


def test_signature_from_outside_the_federation_is_refused():
    deposit = deposit_script()
    digest = b"\x07" * 32
    outsider = PrivateKey.from_int(99)
    with pytest.raises(UnknownSigner) as raised:
        signature = sign_digest(digest, outsider)
        federation_witness(deposit, digest, {outsider.public_key.format(): signature})
    assert raised.value.public_key == outsider.public_key.format()


def test_signature_over_another_digest_is_refused():
    deposit = deposit_script()
    member = MEMBERS[0]
    with pytest.raises(UnknownSigner):
        federation_witness(
            deposit, b"\x07" * 32, {member.public_key.format(): sign_digest(b"\x08" * 32, member)}
        )


def test_fewer_signatures_than_threshold_is_refused():
    deposit = deposit_script()
    digest = b"\x07" * 32
    one = {MEMBERS[1].public_key.format(): sign_digest(digest, MEMBERS[1])}
    with pytest.raises(NotEnoughSignatures) as raised:
        federation_witness(deposit, digest, one)
    assert (raised.value.have, raised.value.need) == (1, 2)


def test_refund_needs_a_refund_branch_the_right_key_and_a_fee_below_the_amount():
    outpoint = COutPoint(b"\x01" * 32, 0)
    destination = b"\x00\x14" + b"\x02" * 20
    with pytest.raises(NoRefundBranch):
        build_refund(outpoint, 10_000, deposit_script(), DEPOSITOR, destination, FEE)
    with pytest.raises(NotTheRefundKey) as wrong_key:
        build_refund(outpoint, 10_000, deposit_script(10), MEMBERS[0], destination, FEE)
    assert wrong_key.value.given == MEMBERS[0].public_key.format()
    assert "is not the deposit's refund key" in str(wrong_key.value)
    with pytest.raises(FeeTooHigh) as raised:
        build_refund(outpoint, 900, deposit_script(10), DEPOSITOR, destination, FEE)
    assert (raised.value.fee, raised.value.amount) == (FEE, 900)
    tokens = SimpleSend(31, 5)
    with pytest.raises(FeeTooHigh) as dust:  # the tokens' receiver would be dust
        build_refund(outpoint, FEE + 500, deposit_script(10), DEPOSITOR, destination, FEE, tokens)
    assert dust.value.keep == DUST_SATS


def test_amounts_from_bitcoind_are_exact_sats():
    assert to_sats(Decimal("0.00000001")) == 1
    assert to_sats(0.1) == 10_000_000
    assert to_sats(20999999.9769) == 2_099_999_997_690_000


def test_federation_moves_usdt_held_by_a_deposit_address(bitcoind: BitcoindNode):
    """USDT paid to a deposit address leaves it only by a simple send the federation signs."""
    node = bitcoind
    deposit = deposit_script(timeout=144)
    address = deposit.address("regtest")
    property_id = issue_usdt(node, 100 * USDT)
    send_usdt(node, address, 30 * USDT, property_id=property_id)
    node.fund(address, "0.001")  # sats for the fee
    node.mine(1)
    coins = node.scantxoutset("start", [f"addr({address})"])["unspents"]
    spends = [(COutPoint(lx(c["txid"]), c["vout"]), to_sats(c["amount"])) for c in coins]
    spends.sort(key=lambda spend: -spend[1])  # any of them is "from the deposit address"
    receiver = node.new_address()
    receiver_script = bytes.fromhex(node.getaddressinfo(receiver)["scriptPubKey"])
    tx = omni_transaction(
        spends, SimpleSend(property_id, 12 * USDT), receiver_script, deposit.script_pubkey, FEE
    )
    for index, (_, amount) in enumerate(spends):
        sign_federation_input(tx, index, amount, deposit, MEMBERS[1:])
    node.send_raw(tx.serialize().hex())
    node.mine(1)
    state = omni_state(node)
    assert state.balance(receiver, property_id) == 12 * USDT
    assert state.balance(address, property_id) == 18 * USDT


def test_omni_transaction_needs_inputs_covering_reference_and_fee():
    spends = [(COutPoint(b"\x01" * 32, 0), 1_500)]
    with pytest.raises(InsufficientFunds) as raised:
        omni_transaction(spends, SimpleSend(31, 1), b"\x00\x14" + b"\x02" * 20, b"\x51", FEE)
    assert (raised.value.available, raised.value.needed) == (1_500, REFERENCE_SATS + FEE)


def test_omni_transaction_orders_op_return_reference_change():
    spends = [(COutPoint(b"\x01" * 32, 0), 100_000), (COutPoint(b"\x02" * 32, 1), 5_000)]
    reference, change = b"\x00\x14" + b"\x02" * 20, b"\x00\x14" + b"\x03" * 20
    tx = omni_transaction(spends, SimpleSend(31, 7), reference, change, FEE)
    assert [bytes(out.scriptPubKey) for out in tx.vout] == [
        op_return_script(SimpleSend(31, 7)),
        reference,
        change,
    ]
    assert [out.nValue for out in tx.vout] == [0, REFERENCE_SATS, 105_000 - REFERENCE_SATS - FEE]
    assert [txin.prevout for txin in tx.vin] == [outpoint for outpoint, _ in spends]
