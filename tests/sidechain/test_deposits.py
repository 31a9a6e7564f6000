"""Deposit (system) transactions: a quorum of attestations mints once; nothing else mints."""

import os

import pytest
from eth_abi import decode
from eth_account import Account
from eth_utils import to_canonical_address

from sidechain.attestation import Attestation, sign_attestation
from sidechain.errors import AlreadyMinted, MalformedAttestation, NotAFederationMember
from sidechain.predeploys import BRIDGE_ADDRESS, SYSTEM_ADDRESS, USDT_ADDRESS
from sidechain.system_tx import ASSET_BTC, ASSET_USDT, DEPOSIT_TX_TYPE, DepositTransaction
from sidechain.views import CallRequest
from tests.support.node import open_node

RECIPIENT = to_canonical_address("0x" + "42" * 20)


def _attest(dev_chain, node, attestation, members):
    status = None
    for member in members:
        signature = sign_attestation(
            attestation, member.private_key, dev_chain.genesis.chain_id, BRIDGE_ADDRESS
        )
        status = node.submit_attestation(attestation, signature)
    return status


def _usdt_balance(node, abi_call, address, block):
    data = abi_call("balanceOf(address)", ["address"], [address])
    return decode(["uint256"], node.call(CallRequest(to=USDT_ADDRESS, data=data), block))[0]


def test_quorum_of_attestations_mints_btc(dev_chain, node):
    attestation = Attestation(os.urandom(32), 1, ASSET_BTC, 150_000, RECIPIENT)
    status = _attest(dev_chain, node, attestation, dev_chain.federation[:2])
    assert len(status.signers) == 2 and status.threshold == 2
    block = node.produce_block()
    (deposit,) = block.transactions
    assert isinstance(deposit, DepositTransaction)
    receipt = node.receipt(deposit.hash)
    assert receipt.status == 1
    assert receipt.type_id == DEPOSIT_TX_TYPE
    assert receipt.sender == SYSTEM_ADDRESS and receipt.to == BRIDGE_ADDRESS
    assert receipt.effective_gas_price == 0
    assert any(log.address == BRIDGE_ADDRESS for log in receipt.logs)
    assert node.balance(RECIPIENT, block.number) == 150_000 * 10**10
    assert node.deposits.status(attestation).included_in == deposit.hash


def test_quorum_of_attestations_mints_usdt(dev_chain, node, abi_call):
    attestation = Attestation(os.urandom(32), 0, ASSET_USDT, 990_000, RECIPIENT)
    _attest(dev_chain, node, attestation, dev_chain.federation)
    block = node.produce_block()
    assert node.receipt(block.transactions[0].hash).status == 1
    assert _usdt_balance(node, abi_call, RECIPIENT, block.number) == 990_000
    assert node.balance(RECIPIENT, block.number) == 0


def test_one_attestation_short_of_quorum_does_not_mint(dev_chain, node):
    attestation = Attestation(os.urandom(32), 0, ASSET_BTC, 5_000, RECIPIENT)
    status = _attest(dev_chain, node, attestation, dev_chain.federation[:1])
    assert len(status.signers) == 1
    block = node.produce_block()
    assert block.transactions == ()
    assert node.balance(RECIPIENT, block.number) == 0


def test_same_member_twice_counts_once(dev_chain, node):
    attestation = Attestation(os.urandom(32), 0, ASSET_BTC, 5_000, RECIPIENT)
    status = _attest(dev_chain, node, attestation, [dev_chain.federation[0]] * 2)
    assert len(status.signers) == 1
    assert node.produce_block().transactions == ()


def test_non_member_signature_is_refused(dev_chain, node):
    attestation = Attestation(os.urandom(32), 0, ASSET_BTC, 5_000, RECIPIENT)
    outsider = Account.create()
    signature = sign_attestation(
        attestation, outsider.key, dev_chain.genesis.chain_id, BRIDGE_ADDRESS
    )
    with pytest.raises(NotAFederationMember) as error:
        node.submit_attestation(attestation, signature)
    assert error.value.signer == to_canonical_address(outsider.address)


def test_signature_for_another_chain_is_refused(dev_chain, node):
    attestation = Attestation(os.urandom(32), 0, ASSET_BTC, 5_000, RECIPIENT)
    member = dev_chain.federation[0]
    signature = sign_attestation(attestation, member.private_key, 1, BRIDGE_ADDRESS)
    with pytest.raises(NotAFederationMember):
        node.submit_attestation(attestation, signature)


def test_truncated_signature_is_malformed(dev_chain, node):
    attestation = Attestation(os.urandom(32), 0, ASSET_BTC, 5_000, RECIPIENT)
    with pytest.raises(MalformedAttestation):
        node.submit_attestation(attestation, b"\x01" * 64)


def test_minted_deposit_is_never_attested_or_included_again(dev_chain, node):
    attestation = Attestation(os.urandom(32), 3, ASSET_BTC, 7_000, RECIPIENT)
    _attest(dev_chain, node, attestation, dev_chain.federation[:2])
    node.produce_block()
    with pytest.raises(AlreadyMinted):
        _attest(dev_chain, node, attestation, dev_chain.federation[2:])
    assert not node.deposits.ready()
    block = node.produce_block()
    assert block.transactions == ()
    assert node.balance(RECIPIENT, block.number) == 7_000 * 10**10


def test_replayed_deposit_transaction_is_refused_by_the_bridge(dev_chain, node):
    """Even if a block carries the same deposit twice, the Bridge mints once and the native
    coin is credited once."""
    attestation = Attestation(os.urandom(32), 0, ASSET_BTC, 7_000, RECIPIENT)
    _attest(dev_chain, node, attestation, dev_chain.federation[:2])
    (deposit,) = node.deposits.take()
    node.deposits.take = lambda: [deposit, deposit]
    block = node.produce_block()
    first, second = (node.block_receipts(block.hash)[i] for i in (0, 1))
    assert (first.status, second.status) == (1, 0)
    assert node.balance(RECIPIENT, block.number) == 7_000 * 10**10


def test_deposit_with_too_few_signatures_fails_without_minting(dev_chain, node):
    attestation = Attestation(os.urandom(32), 0, ASSET_BTC, 7_000, RECIPIENT)
    member = dev_chain.federation[0]
    signature = sign_attestation(
        attestation, member.private_key, dev_chain.genesis.chain_id, BRIDGE_ADDRESS
    )
    forged = DepositTransaction(attestation.txid, 0, ASSET_BTC, 7_000, RECIPIENT, (signature,))
    node.deposits.take = lambda: [forged]
    block = node.produce_block()
    assert node.receipt(forged.hash).status == 0
    assert node.balance(RECIPIENT, block.number) == 0


def test_attestations_survive_a_restart(dev_chain, node):
    attestation = Attestation(os.urandom(32), 0, ASSET_BTC, 9_000, RECIPIENT)
    _attest(dev_chain, node, attestation, dev_chain.federation[:1])
    node.close()
    reopened = open_node(dev_chain.datadir)
    try:
        _attest(dev_chain, reopened, attestation, dev_chain.federation[1:2])
        block = reopened.produce_block()
        assert reopened.balance(RECIPIENT, block.number) == 9_000 * 10**10
    finally:
        reopened.close()


def test_two_attestations_of_one_member_for_one_output_both_survive_a_restart(dev_chain, node):
    """A member signed two different claims about one output: both are kept on disk (keyed by
    what was signed), so after a restart either can still reach its quorum."""
    txid = os.urandom(32)
    first = Attestation(txid, 0, ASSET_BTC, 9_000, RECIPIENT)
    second = Attestation(txid, 0, ASSET_BTC, 8_000, RECIPIENT)
    member, other = dev_chain.federation[:2]
    _attest(dev_chain, node, first, [member])
    _attest(dev_chain, node, second, [member])
    node.close()
    reopened = open_node(dev_chain.datadir)
    try:
        signer = to_canonical_address(member.address)
        assert reopened.deposits.status(first).signers == (signer,)
        assert reopened.deposits.status(second).signers == (signer,)
        _attest(dev_chain, reopened, second, [other])
        block = reopened.produce_block()
        assert reopened.balance(RECIPIENT, block.number) == 8_000 * 10**10
    finally:
        reopened.close()


def test_deposit_transaction_round_trips_its_encoding():
    deposit = DepositTransaction(b"\x01" * 32, 2, ASSET_USDT, 10, RECIPIENT, (b"\x02" * 65,))
    assert DepositTransaction.decode(deposit.encode()) == deposit
    assert deposit.encode()[0] == DEPOSIT_TX_TYPE
    assert deposit.hash != DepositTransaction(b"\x01" * 32, 3, ASSET_USDT, 10, RECIPIENT, ()).hash
