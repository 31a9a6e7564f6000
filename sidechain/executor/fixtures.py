"""BlockchainTests fixtures made from our own chain: valid blocks and tampered variants.

A dev chain (in a temporary store) gets a deposit block (BTC and USDT) and a block mixing a
transfer, USDT transfers (one reverting), a contract creation, a refused (repeated) deposit,
and edge cases that read what the block wrote before them: USDT sent on by the account that
just received it, a call into the contract created earlier in the block, and a creation whose
init code self-destructs. Each block is exported as RLP with its header; `pre` is the genesis
allocation (balances, code and every storage slot the genesis constructors and calls wrote);
the expected post-state is `postStateHash`. Invalid variants replace the last block by a
tampered one (a header field, a bad transaction, truncated RLP...) which must be rejected,
leaving the head at the block before.
"""

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import rlp
from eth._utils.address import generate_contract_address
from eth.abc import BlockAPI, BlockHeaderAPI
from eth.constants import BLANK_ROOT_HASH, EMPTY_SHA3
from eth.db.atomic import AtomicDB
from eth_typing import Address
from eth_utils import encode_hex, int_to_big_endian, keccak, to_canonical_address

from sidechain.executor.forks import SLUICE_NETWORK
from sidechain.executor.mvstate import BAL, CODE, EXIST, NONCE, SLOT, TrieReader, View
from sidechain.executor.runner import BlockEnv, TxRunner, in_process
from sidechain.executor.state_root import StateRootBuilder
from sidechain.executor.workloads import WorkloadChain, receiver
from sidechain.genesis import Genesis, apply_genesis, build_genesis
from sidechain.store import WriteOverlay
from sidechain.system_tx import ASSET_BTC, ASSET_USDT, BlockTransaction
from sidechain.vm import SluiceBlock, SluiceVM

# init code deploying a 1-byte runtime: MSTORE8(0, 1); RETURN(0, 1)
_INIT_CODE = bytes.fromhex("600160005360016000f3")
# init code that self-destructs at once (EIP-6780: created and deleted in one transaction),
# sending what it was given to a fresh address: PUSH20 address, SELFDESTRUCT
_DESTRUCTING_INIT_CODE = b"\x73" + keccak(b"sluice-fixture-beneficiary")[:20] + b"\xff"


def genesis_alloc(genesis: Genesis) -> dict[str, dict[str, Any]]:
    """The genesis state as a fixture `pre`: the genesis applied to an empty field-level view,
    which keeps every field and storage slot written (a trie keeps only hashed slot keys),
    checked against `build_genesis`'s state root."""
    header = build_genesis(genesis).header
    view = View(TrieReader(AtomicDB(), BLANK_ROOT_HASH))
    env = BlockEnv(SluiceVM, header, genesis.chain_id, False, (), BLANK_ROOT_HASH)
    runner = TxRunner(env, view)
    apply_genesis(runner.state, genesis)
    view.apply(runner.db.take().changes)
    overlay = WriteOverlay(AtomicDB())
    if (
        StateRootBuilder(overlay, view.pre, in_process(overlay, view.pre)).root(view.data)
        != header.state_root
    ):
        raise AssertionError("genesis_alloc no longer builds the genesis state")
    accounts: dict[bytes, dict[str, Any]] = {}
    for key, value in sorted(view.data.items(), key=lambda item: (item[0][1], item[0])):
        entry = accounts.setdefault(
            key[1], {"balance": "0x0", "nonce": "0x0", "code": "0x", "storage": {}}
        )
        if key[0] == BAL:
            entry["balance"] = hex(value)
        elif key[0] == NONCE:
            entry["nonce"] = hex(value)
        elif key[0] == CODE and value != EMPTY_SHA3:
            entry["code"] = encode_hex(view.code(value))
        elif key[0] == SLOT and value:
            entry["storage"][hex(key[2])] = encode_hex(int_to_big_endian(value))
    return {
        encode_hex(address): entry
        for address, entry in accounts.items()
        if view.get((EXIST, address)) or entry["storage"]
    }


def header_json(header: BlockHeaderAPI) -> dict[str, str]:
    """A header in fixture form, with the fields its fork has."""
    fields = {
        "parentHash": encode_hex(header.parent_hash),
        "uncleHash": encode_hex(header.uncles_hash),
        "coinbase": encode_hex(header.coinbase),
        "stateRoot": encode_hex(header.state_root),
        "transactionsTrie": encode_hex(header.transaction_root),
        "receiptTrie": encode_hex(header.receipt_root),
        "bloom": encode_hex(header.bloom.to_bytes(256, "big")),
        "difficulty": hex(header.difficulty),
        "number": hex(header.block_number),
        "gasLimit": hex(header.gas_limit),
        "gasUsed": hex(header.gas_used),
        "timestamp": hex(header.timestamp),
        "extraData": encode_hex(header.extra_data),
        "mixHash": encode_hex(header.mix_hash),
        "nonce": encode_hex(header.nonce),
        "hash": encode_hex(header.hash),
    }
    for key, name, form in _FORK_FIELDS:
        if hasattr(header, name):
            fields[key] = form(getattr(header, name))
    return fields


_FORK_FIELDS: tuple[tuple[str, str, Callable[[Any], str]], ...] = (
    ("baseFeePerGas", "base_fee_per_gas", hex),
    ("withdrawalsRoot", "withdrawals_root", encode_hex),
    ("blobGasUsed", "blob_gas_used", hex),
    ("excessBlobGas", "excess_blob_gas", hex),
    ("parentBeaconBlockRoot", "parent_beacon_block_root", encode_hex),
    ("requestsHash", "requests_hash", encode_hex),
)


def block_rlp_of(block: BlockAPI) -> bytes:
    """Any fork's block as RLP (py-evm's block classes are their own RLP sedes)."""
    return rlp.encode(block)


def block_rlp(header: BlockHeaderAPI, txs: tuple[BlockTransaction, ...]) -> bytes:
    return rlp.encode(SluiceBlock(header, transactions=list(txs), uncles=[], withdrawals=[]))


def _valid(header: BlockHeaderAPI, txs: tuple[BlockTransaction, ...]) -> dict[str, Any]:
    return {"rlp": encode_hex(block_rlp(header, txs)), "blockHeader": header_json(header)}


def _invalid(encoded: bytes, exception: str) -> dict[str, Any]:
    return {"rlp": encode_hex(encoded), "expectException": exception}


def _fixture(
    chain: WorkloadChain, alloc: dict[str, Any], blocks: list[dict[str, Any]], head: BlockHeaderAPI
) -> dict[str, Any]:
    genesis = chain.chain.block_by_number(0).header
    return {
        "network": SLUICE_NETWORK,
        "config": {"network": SLUICE_NETWORK, "chainid": hex(chain.chain_id)},
        "sealEngine": "NoProof",
        "genesisBlockHeader": header_json(genesis),
        "genesisRLP": encode_hex(block_rlp(genesis, ())),
        "pre": alloc,
        "blocks": blocks,
        "postStateHash": encode_hex(head.state_root),
        "lastblockhash": encode_hex(head.hash),
    }


def _tampered(
    header: BlockHeaderAPI,
    txs: tuple[BlockTransaction, ...],
    parent: BlockHeaderAPI,
    bad_tx: BlockTransaction,
) -> dict[str, tuple[bytes, str]]:
    """Invalid variants of the block (`header`, `txs`): name -> (RLP, expected exception)."""
    good = block_rlp(header, txs)
    edits: dict[str, Callable[[], bytes]] = {
        "state_root": lambda: block_rlp(header.copy(state_root=keccak(b"x")), txs),
        "gas_used": lambda: block_rlp(header.copy(gas_used=header.gas_used + 1), txs),
        "receipts_root": lambda: block_rlp(header.copy(receipt_root=keccak(b"r")), txs),
        "bloom": lambda: block_rlp(header.copy(bloom=header.bloom ^ 1), txs),
        "transactions_root": lambda: block_rlp(header.copy(transaction_root=keccak(b"t")), txs),
        "requests_hash": lambda: block_rlp(header.copy(requests_hash=keccak(b"q")), txs),
        "base_fee": lambda: block_rlp(
            header.copy(base_fee_per_gas=header.base_fee_per_gas + 1), txs
        ),
        "timestamp_not_after_parent": lambda: block_rlp(
            header.copy(timestamp=parent.timestamp), txs
        ),
        "unknown_parent": lambda: block_rlp(header.copy(parent_hash=keccak(b"p")), txs),
        "nonce_too_high": lambda: block_rlp(header, (*txs, bad_tx)),
        "gas_above_limit": lambda: block_rlp(header.copy(gas_limit=header.gas_used - 1), txs),
        "truncated_rlp": lambda: good[:-7],
    }
    return {name: (edit(), f"Sluice.{name}") for name, edit in edits.items()}


def generate(directory: Path) -> list[Path]:
    """Write `sluice_valid.json` and `sluice_invalid.json` into `directory`."""
    with tempfile.TemporaryDirectory(prefix="sluice-fixtures-") as tmp:
        chain = WorkloadChain(Path(tmp) / "chain", 6, 30_000_000, lambda built: None)
        try:
            return _generate(chain, directory)
        finally:
            chain.close()


def _generate(chain: WorkloadChain, directory: Path) -> list[Path]:
    alloc = genesis_alloc(chain.genesis)
    a = [Address(to_canonical_address(account.address)) for account in chain.accounts]
    btc = chain.deposit(1, ASSET_BTC, 50_000, a[0])
    deposits = (btc, chain.deposit(2, ASSET_USDT, 10**8, a[1]))
    chain.commit(deposits)
    block1 = chain.chain.head()
    create = chain.sign(
        chain.accounts[3],
        {
            "chainId": chain.chain_id,
            "nonce": 0,
            "to": b"",
            "value": 0,
            "gas": 100_000,
            "data": _INIT_CODE,
            "maxFeePerGas": 10**10,
            "maxPriorityFeePerGas": 10**8,
            "type": 2,
        },
    )
    created = Address(generate_contract_address(a[3], 0))
    mixed = (
        chain.user_tx(chain.accounts[0], "transfers", 0, receiver(1), 12345),
        chain.user_tx(chain.accounts[1], "erc20", 0, receiver(2), 777),
        chain.user_tx(chain.accounts[2], "erc20", 0, receiver(3), 1),  # no USDT: reverts
        create,
        btc,  # already minted: the Bridge refuses it, the receipt says so
        # edge cases within one block: each reads what an earlier transaction wrote
        chain.user_tx(chain.accounts[1], "erc20", 1, a[4], 5_000),
        chain.user_tx(chain.accounts[4], "erc20", 0, receiver(4), 4_000),  # USDT just received
        chain.call(chain.accounts[5], 0, created, b"", gas=50_000),  # its code: ADD, underflows
        chain.call(chain.accounts[5], 1, Address(b""), _DESTRUCTING_INIT_CODE, 9, 100_000),
    )
    results = chain.commit(mixed, all_succeed=False)
    statuses = [r.receipt.state_root for r in results.results]
    if statuses != [b"\x01", b"\x01", b"", b"\x01", b"", b"\x01", b"\x01", b"", b"\x01"]:
        raise AssertionError(f"unexpected receipt statuses {statuses}")
    block2 = chain.chain.head()
    nonce_gap = chain.user_tx(chain.accounts[0], "transfers", 9, receiver(9), 1)
    chain.commit(())  # an empty block
    block3 = chain.chain.head()
    blocks = [_valid(b.header, b.transactions) for b in (block1, block2, block3)]
    valid = {
        "sluice_deposits_mixed_empty": _fixture(chain, alloc, blocks, block3.header),
        "sluice_fee_vault_credited": _fixture(chain, alloc, blocks[:2], block2.header),
    }
    invalid = {
        f"sluice_invalid_{name}": _fixture(
            chain, alloc, [blocks[0], _invalid(encoded, exception)], block1.header
        )
        for name, (encoded, exception) in _tampered(
            block2.header, block2.transactions, block1.header, nonce_gap
        ).items()
    }
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, tests in (("sluice_valid.json", valid), ("sluice_invalid.json", invalid)):
        path = directory / name
        path.write_text(json.dumps(tests, indent=1) + "\n")
        paths.append(path)
    return paths
