"""The regtest harness drives a real bitcoind: mining, payments, reorgs, restarts, clean stops."""

import os
from decimal import Decimal

import pytest

from bridge.bitcoin.errors import BitcoinRPCError
from regtest.binaries import Binaries
from regtest.errors import FailedToStart, WaitTimeout
from regtest.node import BitcoindNode
from regtest.util import wait_until


def test_mining_extends_the_chain_by_exactly_n_blocks(bitcoind: BitcoindNode):
    height, _ = bitcoind.tip()
    hashes = bitcoind.mine(3)
    assert len(hashes) == 3
    assert bitcoind.tip() == (height + 3, hashes[-1])


def test_payment_confirms_once_mined(bitcoind: BitcoindNode):
    address = bitcoind.new_address()
    txid = bitcoind.fund(address, "0.125")
    assert bitcoind.gettransaction(txid)["confirmations"] == 0
    bitcoind.mine(1)
    assert bitcoind.gettransaction(txid)["confirmations"] == 1
    assert bitcoind.getreceivedbyaddress(address) == Decimal("0.125")


def test_invalidateblock_reorgs_out_a_payment_and_reconsider_restores_it(bitcoind: BitcoindNode):
    """Invalidating the block that confirmed a payment returns it to the mempool; undoing
    the invalidation restores the same tip and the same confirmation."""
    txid = bitcoind.fund(bitcoind.new_address(), "0.5")
    (block,) = bitcoind.mine(1)
    height, _ = bitcoind.tip()

    bitcoind.invalidate(block)
    assert bitcoind.tip()[0] == height - 1
    assert txid in bitcoind.getrawmempool()

    bitcoind.reconsider(block)
    assert bitcoind.tip() == (height, block)
    assert bitcoind.gettransaction(txid)["blockhash"] == block


def test_send_raw_broadcasts_a_signed_transaction(bitcoind: BitcoindNode):
    address = bitcoind.new_address()
    raw = bitcoind.createrawtransaction([], [{address: Decimal("0.01")}])
    funded = bitcoind.fundrawtransaction(raw)["hex"]
    signed = bitcoind.signrawtransactionwithwallet(funded)
    assert signed["complete"]
    txid = bitcoind.send_raw(signed["hex"])
    assert txid in bitcoind.getrawmempool()


def test_rpc_error_carries_bitcoinds_code(bitcoind: BitcoindNode):
    with pytest.raises(BitcoinRPCError) as raised:
        bitcoind.getblock("00" * 32)
    assert raised.value.code == -5
    assert "Block not found" in raised.value.message


def test_restart_keeps_chain_wallet_and_ports(bitcoind: BitcoindNode):
    tip, balance, port = bitcoind.tip(), bitcoind.getbalance(), bitcoind.rpc_port
    bitcoind.restart()
    assert bitcoind.tip() == tip
    assert bitcoind.getbalance() == balance
    assert bitcoind.rpc_port == port


def test_stop_leaves_no_process_behind(bitcoind_binaries: Binaries, tmp_path):
    node = BitcoindNode(tmp_path / "n", bitcoind_binaries, index=1)
    with node:
        pid = node.process.pid
        assert node.getblockcount() == 0
    assert not node.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_node_that_cannot_start_fails_with_its_log(bitcoind_binaries: Binaries, tmp_path):
    node = BitcoindNode(tmp_path / "bad", bitcoind_binaries, extra_args=["-nosuchoption=1"])
    with pytest.raises(FailedToStart) as raised:
        node.start()
    assert "nosuchoption" in str(raised.value)
    assert not node.running


def test_wait_until_names_the_predicate_on_timeout():
    with pytest.raises(WaitTimeout) as raised:
        wait_until(lambda: 1 + 1 == 3, timeout=0.1)
    assert "1 + 1 == 3" in str(raised.value)


def test_token_transactions_are_not_rejected_by_policy(bitcoind: BitcoindNode):
    """An Omni (token) transaction passes mempool policy and mines, on either bitcoind we
    run: Bitcoin Core (>= 25) accepts it as is; Knots rejects tokens by default, and the
    harness starts it with that policy off."""
    payload = (b"omni" + bytes(4) + (31).to_bytes(4, "big") + (1).to_bytes(8, "big")).hex()
    raw = bitcoind.createrawtransaction([], [{"data": payload}])
    funded = bitcoind.fundrawtransaction(raw)["hex"]
    signed = bitcoind.signrawtransactionwithwallet(funded)["hex"]
    (verdict,) = bitcoind.testmempoolaccept([signed])
    assert verdict["allowed"], verdict.get("reject-reason")
    txid = bitcoind.send_raw(signed)
    bitcoind.mine(1)
    assert bitcoind.gettransaction(txid)["confirmations"] == 1
