"""debug_getRawBlock: a follower gets each block as its RLP, deposit transactions included, and
re-executes it with the sequential executor into its own store to the node's own header."""

import os
from dataclasses import replace
from pathlib import Path

from eth_account import Account

from regtest.util import wait_until
from sidechain.attestation import Attestation, sign_attestation
from sidechain.chaindata import ChainData
from sidechain.datadir import STORE_DIR, init_datadir
from sidechain.executor.sequential import SequentialExecutor
from sidechain.importer import import_block
from sidechain.predeploys import BRIDGE_ADDRESS
from sidechain.rpc.serialize import decode_raw_block
from sidechain.store import Store
from sidechain.system_tx import ASSET_BTC, DepositTransaction


def _mint(node, federation) -> int:
    """Two members attest a deposit; the block number that minted it."""
    recipient = Account.create().address
    attestation = Attestation(os.urandom(32), 0, ASSET_BTC, 70_000, bytes.fromhex(recipient[2:]))
    param = {
        "txid": "0x" + attestation.txid.hex(),
        "vout": "0x0",
        "asset": "BTC",
        "amount": hex(attestation.amount),
        "recipient": recipient,
    }
    chain_id = int(node.rpc("eth_chainId"), 16)
    for member in federation[:2]:
        signature = sign_attestation(attestation, member.key, chain_id, BRIDGE_ADDRESS)
        node.rpc("sluice_submitAttestation", param, "0x" + signature.hex())
    wait_until(lambda: int(node.rpc("eth_getBalance", recipient, "latest"), 16) > 0)
    receipt_block = None
    head = int(node.rpc("eth_blockNumber"), 16)
    for number in range(head, -1, -1):
        block = node.rpc("eth_getBlockByNumber", hex(number), True)
        if any(tx["type"] == "0x7e" for tx in block["transactions"]):
            receipt_block = number
            break
    assert receipt_block is not None
    return receipt_block


def test_a_follower_re_executes_raw_blocks_with_deposits_to_the_same_roots(
    node, federation, dev_datadir: Path, tmp_path: Path
) -> None:
    minted_at = _mint(node, federation)
    follower = tmp_path / "follower"
    # The follower starts from the same genesis (the node's datadir as written at init).
    source = Store(dev_datadir / STORE_DIR)
    genesis = ChainData.load(source, dev_datadir).genesis()
    source.close()
    first = decode_raw_block(bytes.fromhex(node.rpc("debug_getRawBlock", "0x0")[2:]))
    # A genesis file's timestamp 0 means "when initialised": the header says when that was.
    init_datadir(replace(genesis, timestamp=first.header.timestamp), follower)
    store = Store(follower / STORE_DIR)
    try:
        chain = ChainData.load(store, follower)
        assert chain.head().hash.hex() == node.rpc("eth_getBlockByNumber", "0x0", False)["hash"][2:]
        executor = SequentialExecutor(genesis.chain_id)
        deposits = 0
        for number in range(1, minted_at + 1):
            raw = bytes.fromhex(node.rpc("debug_getRawBlock", hex(number))[2:])
            block = decode_raw_block(raw)
            deposits += sum(isinstance(tx, DepositTransaction) for tx in block.transactions)
            imported = import_block(store, chain, executor, block)
            served = node.rpc("eth_getBlockByNumber", hex(number), False)
            assert "0x" + imported.header.state_root.hex() == served["stateRoot"]
            assert "0x" + imported.hash.hex() == served["hash"]
            assert len(raw) == int(served["size"], 16)
        assert deposits >= 1
    finally:
        store.close()


def test_raw_block_of_an_unknown_block_is_an_error(node) -> None:
    head = int(node.rpc("eth_blockNumber"), 16)
    answer = node.call("debug_getRawBlock", hex(head + 1000))
    assert answer["error"]["message"] == "header not found"
    answer = node.call("debug_getRawBlock", "latest", "extra")
    assert answer["error"]["code"] == -32602


def test_raw_block_by_hash_and_by_tag_is_the_block_they_name(node) -> None:
    genesis = node.rpc("eth_getBlockByNumber", "0x0", False)
    for named in ("earliest", genesis["hash"], {"blockHash": genesis["hash"]}):
        raw = bytes.fromhex(node.rpc("debug_getRawBlock", named)[2:])
        assert "0x" + decode_raw_block(raw).hash.hex() == genesis["hash"]


def test_safe_and_finalized_name_the_head(node, federation) -> None:
    """A single-producer chain has no reorgs: its head is already safe and final."""
    _mint(node, federation)  # a head above genesis
    for tag in ("safe", "finalized"):
        head = int(node.rpc("eth_blockNumber"), 16)
        named = node.rpc("eth_getBlockByNumber", tag, False)
        assert int(named["number"], 16) >= head > 0  # the head (or a block made since)
