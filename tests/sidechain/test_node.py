"""The node facade: logs, calls with revert data, gas estimation, fee history, the producer."""

import asyncio
import os

import pytest
from eth_utils import keccak, to_canonical_address

from sidechain.attestation import Attestation, sign_attestation
from sidechain.errors import ExecutionReverted, UnknownBlock
from sidechain.predeploys import BRIDGE_ADDRESS, USDT_ADDRESS
from sidechain.views import CallRequest, LogFilter

RECIPIENT = to_canonical_address("0x" + "42" * 20)
TRANSFER = keccak(text="Transfer(address,address,uint256)")


def _mint_usdt(dev_chain, node, amount):
    attestation = Attestation(os.urandom(32), 0, 1, amount, RECIPIENT)
    for member in dev_chain.federation[:2]:
        signature = sign_attestation(
            attestation, member.private_key, dev_chain.genesis.chain_id, BRIDGE_ADDRESS
        )
        node.submit_attestation(attestation, signature)
    return node.produce_block()


def test_logs_filter_by_address_topic_and_range(dev_chain, node):
    first = _mint_usdt(dev_chain, node, 100)
    node.produce_block()
    third = _mint_usdt(dev_chain, node, 200)
    all_logs = node.logs(LogFilter(0, third.number))
    assert {log.block_number for log in all_logs} == {first.number, third.number}
    usdt = node.logs(LogFilter(0, third.number, addresses=(USDT_ADDRESS,), topics=((TRANSFER,),)))
    assert len(usdt) == 2
    assert all(log.address == USDT_ADDRESS and log.topics[0] == TRANSFER for log in usdt)
    assert (
        node.logs(LogFilter(third.number, third.number, addresses=(USDT_ADDRESS,)))[0].block_hash
        == third.hash
    )
    to_recipient = (TRANSFER,), None, (RECIPIENT.rjust(32, b"\0"),)
    assert len(node.logs(LogFilter(0, third.number, topics=to_recipient))) == 2
    assert node.logs(LogFilter(0, third.number, topics=((b"\x01" * 32,),))) == []
    indexes = [log.log_index for log in node.logs(LogFilter(first.number, first.number))]
    assert indexes == list(range(len(indexes)))


def test_call_surfaces_revert_reason_and_data(node, abi_call):
    data = abi_call("deposit(bytes32,uint32,uint8,uint256,address,bytes[])",
                    ["bytes32", "uint32", "uint8", "uint256", "address", "bytes[]"],
                    [b"\0" * 32, 0, 0, 1, RECIPIENT, []])  # fmt: skip
    with pytest.raises(ExecutionReverted) as error:
        node.call(CallRequest(sender=RECIPIENT, to=BRIDGE_ADDRESS, data=data), 0)
    assert error.value.reason == "only system"
    assert error.value.data[:4] == bytes.fromhex("08c379a0")
    with pytest.raises(ExecutionReverted):
        node.estimate_gas(CallRequest(sender=RECIPIENT, to=BRIDGE_ADDRESS, data=data), 0)


def test_estimate_gas_is_enough_and_tight(dev_chain, node):
    plain = CallRequest(sender=dev_chain.address(0), to=RECIPIENT, value=1)
    assert node.estimate_gas(plain, 0) == 21_000
    data = bytes.fromhex("a9059cbb") + RECIPIENT.rjust(32, b"\0") + (0).to_bytes(32, "big")
    call = CallRequest(sender=dev_chain.address(0), to=USDT_ADDRESS, data=data)
    estimate = node.estimate_gas(call, 0)
    node.call(CallRequest(**{**call.__dict__, "gas": estimate}), 0)
    with pytest.raises(Exception):  # noqa: B017 - one gas less fails in some way
        node.call(CallRequest(**{**call.__dict__, "gas": estimate - 1}), 0)


def test_state_at_unknown_block_is_an_error(dev_chain, node):
    with pytest.raises(UnknownBlock):
        node.balance(dev_chain.address(0), 5)
    with pytest.raises(UnknownBlock):
        node.block_by_hash(b"\x01" * 32)


def test_fee_history_reports_base_fees_and_tips(dev_chain, node):
    node.send_raw_transaction(dev_chain.sign(0, maxPriorityFeePerGas=10**8))
    node.produce_block()
    node.produce_block()
    history = node.fee_history(3, node.head().number, (50.0,))
    assert history.oldest_block == 0
    assert len(history.base_fees) == 4
    assert history.base_fees[-1] == node.next_base_fee()
    assert history.gas_used_ratios[1] == 21_000 / dev_chain.genesis.gas_limit
    assert history.rewards[1] == (10**8,)
    assert node.gas_price() == node.next_base_fee() + node.max_priority_fee()


def test_pending_nonce_counts_pooled_transactions(dev_chain, node):
    node.send_raw_transaction(dev_chain.sign(0, nonce=0))
    node.send_raw_transaction(dev_chain.sign(0, nonce=1))
    assert node.pending_nonce(dev_chain.address(0)) == 2
    assert node.nonce(dev_chain.address(0), 0) == 0


async def test_dev_node_produces_a_block_as_soon_as_a_transaction_is_pending(dev_chain, node):
    node.block_interval = 60
    await node.start()
    try:
        # Once started, chain work goes through the node's worker thread (`run`).
        tx_hash = await node.run(node.send_raw_transaction, dev_chain.sign(0))
        for _ in range(100):
            if await node.run(node.receipt, tx_hash) is not None:
                break
            await asyncio.sleep(0.02)
        assert (await node.run(node.receipt, tx_hash)).status == 1
    finally:
        await node.stop()


async def test_producer_builds_empty_blocks_on_its_interval(node):
    node.block_interval = 0.05
    await node.start()
    try:
        for _ in range(100):
            if node.head().number >= 2:
                break
            await asyncio.sleep(0.02)
        assert node.head().number >= 2
    finally:
        await node.stop()
