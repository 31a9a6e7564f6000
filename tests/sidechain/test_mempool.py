"""Mempool admission: each rejection with its typed error, replacement, limits and fee order."""

import pytest
from eth_account import Account

from sidechain.errors import (
    AlreadyKnown,
    BadSignature,
    FeeCapBelowBaseFee,
    GasLimitExceeded,
    InsufficientFunds,
    IntrinsicGasTooLow,
    MalformedTransaction,
    NonceTooHigh,
    NonceTooLow,
    Oversized,
    PoolFull,
    ReplacementUnderpriced,
    WrongChainId,
)
from sidechain.mempool import Mempool, PoolLimits


def test_accepted_transaction_is_pending_and_mined(dev_chain, node):
    tx_hash = node.send_raw_transaction(dev_chain.sign(0))
    assert node.transaction(tx_hash).block_number is None
    node.produce_block()
    assert node.transaction(tx_hash).block_number == 1
    assert node.pending_count() == 0


def test_nonce_too_low_is_rejected(dev_chain, node):
    node.send_raw_transaction(dev_chain.sign(0, nonce=0))
    node.produce_block()
    with pytest.raises(NonceTooLow) as error:
        node.send_raw_transaction(dev_chain.sign(0, nonce=0, value=2))
    assert error.value.state_nonce == 1
    assert "nonce too low" in str(error.value)


def test_nonce_far_ahead_is_rejected(dev_chain, node):
    with pytest.raises(NonceTooHigh):
        node.send_raw_transaction(dev_chain.sign(0, nonce=1000))


def test_insufficient_funds_is_rejected(dev_chain, node):
    with pytest.raises(InsufficientFunds) as error:
        node.send_raw_transaction(dev_chain.sign(0, value=10**30))
    assert error.value.balance == dev_chain.genesis.accounts[0].balance


def test_unfunded_sender_is_rejected(dev_chain, node):
    stranger = Account.create()
    tx = {
        "chainId": dev_chain.genesis.chain_id, "nonce": 0, "to": "0x" + "11" * 20, "value": 0,
        "gas": 21_000, "maxFeePerGas": 3 * 10**9, "maxPriorityFeePerGas": 1, "type": 2,
    }  # fmt: skip
    raw = bytes(Account.sign_transaction(tx, stranger.key).raw_transaction)
    with pytest.raises(InsufficientFunds):
        node.send_raw_transaction(raw)


def test_fee_cap_below_base_fee_is_underpriced(dev_chain, node):
    with pytest.raises(FeeCapBelowBaseFee) as error:
        node.send_raw_transaction(dev_chain.sign(0, maxFeePerGas=1, maxPriorityFeePerGas=1))
    assert "underpriced" in str(error.value)


def test_wrong_chain_id_is_rejected(dev_chain, node):
    with pytest.raises(WrongChainId) as error:
        node.send_raw_transaction(dev_chain.sign(0, chainId=1))
    assert error.value.received == 1


def _resigned(raw: bytes, **signature: int) -> bytes:
    """The same EIP-1559 transaction with its signature fields replaced."""
    from sidechain.vm import SluiceTransactionBuilder

    tx = SluiceTransactionBuilder.decode(raw)
    return bytes([2]) + tx._inner.copy(**signature).encode()


def test_unrecoverable_signature_is_bad_signature(dev_chain, node):
    with pytest.raises(BadSignature) as error:
        node.send_raw_transaction(_resigned(dev_chain.sign(0), r=0))
    assert "invalid sender" in str(error.value)
    assert node.pending_count() == 0


def test_high_s_signature_is_bad_signature(dev_chain, node):
    from eth_keys.constants import SECPK1_N

    from sidechain.vm import SluiceTransactionBuilder

    tx = SluiceTransactionBuilder.decode(dev_chain.sign(0))
    with pytest.raises(BadSignature):
        node.send_raw_transaction(
            _resigned(dev_chain.sign(0), s=SECPK1_N - tx.s, y_parity=1 - tx.y_parity)
        )


def test_oversized_transaction_is_rejected(dev_chain, node):
    with pytest.raises(Oversized) as error:
        node.send_raw_transaction(dev_chain.sign(0, data=b"\x01" * (129 * 1024), gas=10**7))
    assert error.value.limit == 128 * 1024


def test_intrinsic_gas_too_low_is_rejected(dev_chain, node):
    with pytest.raises(IntrinsicGasTooLow) as error:
        node.send_raw_transaction(dev_chain.sign(0, gas=20_000))
    assert error.value.intrinsic == 21_000


def test_gas_above_block_gas_limit_is_rejected(dev_chain, node):
    with pytest.raises(GasLimitExceeded):
        node.send_raw_transaction(dev_chain.sign(0, gas=dev_chain.genesis.gas_limit + 1))


def test_malformed_bytes_are_rejected(node):
    with pytest.raises(MalformedTransaction):
        node.send_raw_transaction(b"\x02\xc0garbage")


def test_user_cannot_send_a_deposit_transaction(node):
    with pytest.raises(MalformedTransaction):
        node.send_raw_transaction(b"\x7e\xc0")


def test_same_transaction_twice_is_already_known(dev_chain, node):
    raw = dev_chain.sign(0)
    node.send_raw_transaction(raw)
    with pytest.raises(AlreadyKnown):
        node.send_raw_transaction(raw)


def test_replacement_needs_a_ten_percent_bump(dev_chain, node):
    node.send_raw_transaction(dev_chain.sign(0, maxPriorityFeePerGas=10**8))
    with pytest.raises(ReplacementUnderpriced):
        node.send_raw_transaction(dev_chain.sign(0, value=2, maxPriorityFeePerGas=10**8 + 1))
    better = node.send_raw_transaction(
        dev_chain.sign(0, value=3, maxPriorityFeePerGas=11 * 10**7, maxFeePerGas=4 * 10**9)
    )
    assert node.pending_count() == 1
    block = node.produce_block()
    assert [tx.hash for tx in block.transactions] == [better]


def test_per_sender_limit(dev_chain, node):
    node.mempool.limits = PoolLimits(per_sender=2)
    node.send_raw_transaction(dev_chain.sign(0, nonce=0))
    node.send_raw_transaction(dev_chain.sign(0, nonce=1))
    with pytest.raises(PoolFull) as error:
        node.send_raw_transaction(dev_chain.sign(0, nonce=2))
    assert error.value.scope == "per-sender"


def test_total_limit(dev_chain, node):
    node.mempool.limits = PoolLimits(total=2)
    node.send_raw_transaction(dev_chain.sign(0))
    node.send_raw_transaction(dev_chain.sign(1))
    with pytest.raises(PoolFull) as error:
        node.send_raw_transaction(dev_chain.sign(2))
    assert error.value.scope == "pool"


def test_block_orders_by_tip_and_keeps_nonce_order(dev_chain, node):
    low = node.send_raw_transaction(dev_chain.sign(0, maxPriorityFeePerGas=1))
    high_first = node.send_raw_transaction(dev_chain.sign(1, nonce=0, maxPriorityFeePerGas=10**9))
    high_second = node.send_raw_transaction(
        dev_chain.sign(1, nonce=1, maxPriorityFeePerGas=2 * 10**9)
    )
    middle = node.send_raw_transaction(dev_chain.sign(2, maxPriorityFeePerGas=10**8))
    block = node.produce_block()
    assert [tx.hash for tx in block.transactions] == [high_first, high_second, middle, low]


def test_gapped_nonce_waits_for_the_missing_one(dev_chain, node):
    later = node.send_raw_transaction(dev_chain.sign(0, nonce=1))
    assert node.produce_block().transactions == ()
    first = node.send_raw_transaction(dev_chain.sign(0, nonce=0))
    assert [tx.hash for tx in node.produce_block().transactions] == [first, later]


def test_legacy_transaction_is_accepted(dev_chain, node):
    tx_hash = node.send_raw_transaction(dev_chain.sign(0, gasPrice=2 * 10**9))
    node.produce_block()
    receipt = node.receipt(tx_hash)
    assert receipt.status == 1
    assert receipt.type_id == 0
    assert receipt.effective_gas_price == 2 * 10**9


def test_pool_is_empty_initially():
    assert len(Mempool(1)) == 0
