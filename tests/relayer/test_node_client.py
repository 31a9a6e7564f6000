"""The relayer's node client against a real `sluice node run` (dev genesis, 2-of-3 federation)."""

import asyncio
import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_abi import encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from relayer.errors import (
    AttestationRefused,
    NodeCallReverted,
    NodeUnavailable,
    ReceiptTimeout,
)
from relayer.node_client import Deposited, NodeClient
from sidechain.attestation import Attestation, sign_attestation
from sidechain.predeploys import BRIDGE_ADDRESS
from tests.sidechain.rpc.conftest import NodeProcess, free_port, init_dev


@pytest.fixture(scope="module")
def dev_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    process = NodeProcess(init_dev(tmp_path_factory.mktemp("node")))
    process.start()
    try:
        yield process
    finally:
        process.stop()


def accounts(node: NodeProcess, name: str) -> list[LocalAccount]:
    entries = json.loads((node.datadir / name).read_text())
    return [Account.from_key(entry["private_key"]) for entry in entries]


def a_deposit(asset: int = 0, amount: int = 42_000) -> Attestation:
    return Attestation(secrets.token_bytes(32), 1, asset, amount, secrets.token_bytes(20))


async def test_it_reads_the_chain_head_and_id(dev_node: NodeProcess) -> None:
    async with NodeClient(dev_node.url) as node:
        assert await node.chain_id() == 5151
        assert await node.block_number() >= 0


async def test_attestations_reach_quorum_mint_once_and_decode_as_deposited(
    dev_node: NodeProcess,
) -> None:
    members = accounts(dev_node, "dev-federation.json")
    deposit = a_deposit(asset=1, amount=3_000_000)
    async with NodeClient(dev_node.url) as node:
        chain_id = await node.chain_id()
        start = await node.block_number()
        signed = [
            sign_attestation(deposit, bytes(m.key), chain_id, BRIDGE_ADDRESS) for m in members
        ]
        first = await node.submit_attestation(deposit, signed[0])
        assert (first.quorum, first.threshold, len(first.signers)) == (False, 2, 1)
        assert first.deposit_id == deposit.deposit_id
        second = await node.submit_attestation(deposit, signed[1])
        assert second.quorum
        txid = deposit.txid.hex()
        for _ in range(100):
            if await node.is_minted(txid, deposit.vout):
                break
            await asyncio.sleep(0.1)
        assert await node.is_minted(txid, deposit.vout)
        events = await node.bridge_events(start, await node.block_number(), ["Deposited"])
        (event,) = [e for e in events if isinstance(e, Deposited) and e.txid == txid]
        assert (event.vout, event.asset, event.amount) == (1, 1, 3_000_000)
        assert event.recipient == "0x" + deposit.recipient.hex()
        assert event.deposit_id == deposit.deposit_id
        assert await node.usdt_balance(event.recipient) == 3_000_000
        with pytest.raises(AttestationRefused) as refused:
            await node.submit_attestation(deposit, signed[2])
        assert refused.value.already_minted


async def test_a_signer_outside_the_federation_is_refused(dev_node: NodeProcess) -> None:
    deposit = a_deposit()
    outsider = Account.create()
    async with NodeClient(dev_node.url) as node:
        signature = sign_attestation(deposit, bytes(outsider.key), 5151, BRIDGE_ADDRESS)
        with pytest.raises(AttestationRefused) as refused:
            await node.submit_attestation(deposit, signature)
        assert not refused.value.already_minted
        assert "not a federation member" in refused.value.message


async def test_a_transaction_is_sent_and_its_receipt_awaited(dev_node: NodeProcess) -> None:
    sender = accounts(dev_node, "dev-accounts.json")[0]
    async with NodeClient(dev_node.url) as node:
        nonce = await node.nonce(sender.address)
        tx = {
            "to": Account.create().address,
            "value": 10**15,
            "gas": 21_000,
            "maxFeePerGas": 10 * 10**9,
            "maxPriorityFeePerGas": 10**9,
            "nonce": nonce,
            "chainId": await node.chain_id(),
            "type": 2,
        }
        raw = sender.sign_transaction(tx).raw_transaction
        receipt = await node.send_and_wait(bytes(raw), timeout=30)
        assert receipt.succeeded and receipt.block_number >= 1
        assert await node.balance(tx["to"]) == 10**15
        assert await node.nonce(sender.address) == nonce + 1


async def test_a_reverting_call_raises_with_its_reason(dev_node: NodeProcess) -> None:
    data = keccak(text="deposit(bytes32,uint32,uint8,uint256,address,bytes[])")[:4] + encode(
        ["bytes32", "uint32", "uint8", "uint256", "address", "bytes[]"],
        [bytes(32), 0, 0, 1, "0x" + "11" * 20, []],
    )
    async with NodeClient(dev_node.url) as node:
        with pytest.raises(NodeCallReverted) as reverted:
            await node.eth_call(BRIDGE_ADDRESS, data)
        assert "only system" in reverted.value.message


async def test_an_unknown_transaction_times_out_waiting_for_its_receipt(
    dev_node: NodeProcess,
) -> None:
    async with NodeClient(dev_node.url) as node:
        with pytest.raises(ReceiptTimeout):
            await node.wait_for_receipt("0x" + "ab" * 32, timeout=0.5, poll=0.1)


async def test_a_node_that_is_not_there_is_unavailable(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with NodeClient(url, timeout=2.0) as node:
        with pytest.raises(NodeUnavailable) as raised:
            await node.block_number()
    assert url in str(raised.value) and "eth_blockNumber" in str(raised.value)
