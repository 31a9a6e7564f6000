"""Test USDT on a real bitcoind: issued, sent, overspent and reorged, as the indexer sees it."""

from bridge.bitcoin.chain import sync_stage
from bridge.bitcoin.omni.indexer import InvalidReason, OmniIndexer
from bridge.bitcoin.rpc import BitcoinRPC
from regtest.node import BitcoindNode
from regtest.omni import issue_usdt, issuer_address, omni_state, send_usdt

USDT = 100_000_000  # one USDT in base units (8 decimals)


def client(node: BitcoindNode) -> BitcoinRPC:
    return BitcoinRPC(node.rpc_url, user=node.rpc_user, password=node.rpc_password)


async def test_issue_and_send_are_tracked_by_an_indexer_reading_bitcoind(bitcoind: BitcoindNode):
    property_id = issue_usdt(bitcoind, 1_000 * USDT)
    alice = bitcoind.new_address()
    send_usdt(bitcoind, alice, 250 * USDT, property_id=property_id)
    bitcoind.mine(1)

    indexer = OmniIndexer()
    async with client(bitcoind) as rpc:
        tip = await sync_stage(rpc, indexer, batch_size=50)
    assert indexer.checkpoint().height == tip == bitcoind.getblockcount()
    issuer = issuer_address(bitcoind)
    assert indexer.properties[property_id].issuer == issuer
    assert indexer.balance(alice, property_id) == 250 * USDT
    assert indexer.balance(issuer, property_id) == 750 * USDT
    assert indexer.supply[property_id] == 1_000 * USDT


def test_overspend_is_mined_but_marked_invalid(bitcoind: BitcoindNode):
    property_id = issue_usdt(bitcoind, 10 * USDT)
    issuer = issuer_address(bitcoind)
    holdings = omni_state(bitcoind).balance(issuer, property_id)
    bob = bitcoind.new_address()
    txid = send_usdt(bitcoind, bob, holdings + 1, property_id=property_id)
    (block_hash,) = bitcoind.mine(1)
    assert txid in bitcoind.getblock(block_hash)["tx"]

    state = omni_state(bitcoind)
    assert state.result(txid).invalid_reason is InvalidReason.INSUFFICIENT_BALANCE
    assert state.balance(bob, property_id) == 0
    assert state.balance(issuer, property_id) == holdings


def test_reorg_rolls_a_send_back_and_forward(bitcoind: BitcoindNode):
    property_id = issue_usdt(bitcoind, 100 * USDT)
    issuer = issuer_address(bitcoind)
    carol = bitcoind.new_address()
    send_usdt(bitcoind, carol, 40 * USDT, property_id=property_id)
    (block_hash,) = bitcoind.mine(1)
    state = omni_state(bitcoind)
    before = state.balance(issuer, property_id)
    assert state.balance(carol, property_id) == 40 * USDT

    bitcoind.invalidate(block_hash)
    state = omni_state(bitcoind)
    assert state.checkpoint().hash != block_hash
    assert state.balance(carol, property_id) == 0
    assert state.balance(issuer, property_id) == before + 40 * USDT

    bitcoind.reconsider(block_hash)
    state = omni_state(bitcoind)
    assert state.checkpoint().hash == block_hash
    assert state.balance(carol, property_id) == 40 * USDT
    assert state.balance(issuer, property_id) == before


def test_send_usdt_builds_a_class_c_transaction(bitcoind: BitcoindNode):
    property_id = issue_usdt(bitcoind, 5 * USDT)
    dave = bitcoind.new_address()
    txid = send_usdt(bitcoind, dave, 2 * USDT, property_id=property_id)
    tx = bitcoind.getrawtransaction(txid, True)
    op_return, reference, change = tx["vout"]
    assert op_return["scriptPubKey"]["type"] == "nulldata"
    assert reference["scriptPubKey"]["address"] == dave
    assert change["scriptPubKey"]["address"] == issuer_address(bitcoind)
    spent = tx["vin"][0]
    first_input = bitcoind.getrawtransaction(spent["txid"], True)["vout"][spent["vout"]]
    assert first_input["scriptPubKey"]["address"] == issuer_address(bitcoind)
    bitcoind.mine(1)
    assert omni_state(bitcoind).balance(dave, property_id) == 2 * USDT
