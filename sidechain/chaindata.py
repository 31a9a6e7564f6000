"""Blocks, receipts and indexes in the store's `chain` database, and the views built from them.

Keys (all in the `chain` database; numbers are 8-byte big-endian):
    b"genesis"            the Genesis as JSON
    b"head"               hash of the newest block
    b"H" + hash           header RLP
    b"N" + number         canonical hash at that height
    b"B" + hash           RLP list of the transactions' network encodings
    b"R" + hash           RLP list of the receipts' encodings
    b"T" + tx hash        RLP [block number, index]
    b"M" + txid + vout    hash of the deposit transaction that minted Bitcoin output txid:vout
"""

import bisect
from pathlib import Path
from typing import Self

import rlp
from eth._utils.address import generate_contract_address
from eth.abc import BlockHeaderAPI, ReceiptAPI
from eth.constants import CREATE_CONTRACT_ADDRESS
from eth.vm.forks.london.headers import calculate_expected_base_fee_per_gas
from eth.vm.forks.prague.blocks import PragueBlockHeader
from eth_bloom import BloomFilter
from eth_typing import Address, Hash32

from sidechain.errors import NotInitialized, StoreError, UnknownBlock
from sidechain.executor.abc import BlockResult
from sidechain.genesis import Genesis
from sidechain.store import Store
from sidechain.system_tx import BlockTransaction, DepositTransaction, SluiceReceiptBuilder
from sidechain.views import (
    FeeHistory,
    LogFilter,
    LogView,
    ReceiptView,
    StoredBlock,
    TransactionView,
)
from sidechain.vm import SluiceTransactionBuilder, effective_gas_price

_SUCCESS = b"\x01"
ANCESTOR_DEPTH = 256


def _num(number: int) -> bytes:
    return number.to_bytes(8, "big")


def minted_key(txid: bytes, vout: int) -> bytes:
    return b"M" + txid + vout.to_bytes(4, "big")


def decode_transaction(encoded: bytes) -> BlockTransaction:
    return SluiceTransactionBuilder.decode(encoded)


class ChainData:
    """Reads and writes the chain part of the store; caches the head."""

    def __init__(self, store: Store, genesis: Genesis, head: StoredBlock) -> None:
        self._store = store
        self._genesis = genesis
        self._head = head

    @classmethod
    def load(cls, store: Store, datadir: Path) -> Self:
        raw_genesis = store.chain_get(b"genesis")
        head_hash = store.chain_get(b"head")
        if raw_genesis is None or head_hash is None:
            raise NotInitialized(datadir)
        genesis = Genesis.from_json(raw_genesis.decode())
        chain = cls(store, genesis, None)  # type: ignore[arg-type]
        chain._head = chain.block_by_hash(Hash32(head_hash))
        return chain

    def genesis(self) -> Genesis:
        return self._genesis

    # blocks

    def head(self) -> StoredBlock:
        return self._head

    def head_number(self) -> int:
        return self._head.number

    def header_by_hash(self, block_hash: Hash32) -> BlockHeaderAPI:
        raw = self._store.chain_get(b"H" + block_hash)
        if raw is None:
            raise UnknownBlock("0x" + block_hash.hex())
        return rlp.decode(raw, sedes=PragueBlockHeader)

    def hash_by_number(self, number: int) -> Hash32:
        if number < 0 or number > self._head.number:
            raise UnknownBlock(number)
        raw = self._store.chain_get(b"N" + _num(number))
        if raw is None:
            raise StoreError(f"canonical hash of block {number} is missing")
        return Hash32(raw)

    def block_by_hash(self, block_hash: Hash32) -> StoredBlock:
        header = self.header_by_hash(block_hash)
        raw = self._store.chain_get(b"B" + block_hash) or rlp.encode([])
        txs = tuple(decode_transaction(item) for item in rlp.decode(raw))
        return StoredBlock(header, txs)

    def block_by_number(self, number: int) -> StoredBlock:
        return self.block_by_hash(self.hash_by_number(number))

    def ancestor_hashes(self, parent: BlockHeaderAPI) -> tuple[Hash32, ...]:
        """Hashes of `parent` and its ancestors, newest first, at most 256 (for BLOCKHASH)."""
        first = max(0, parent.block_number - ANCESTOR_DEPTH + 1)
        older = [self.hash_by_number(n) for n in range(parent.block_number - 1, first - 1, -1)]
        return (parent.hash, *older)

    def receipts(self, block_hash: Hash32) -> tuple[ReceiptAPI, ...]:
        raw = self._store.chain_get(b"R" + block_hash) or rlp.encode([])
        return tuple(SluiceReceiptBuilder.decode(item) for item in rlp.decode(raw))

    def is_minted(self, txid: bytes, vout: int) -> bool:
        return self.minted_by(txid, vout) is not None

    def minted_by(self, txid: bytes, vout: int) -> Hash32 | None:
        """The hash of the deposit transaction that minted Bitcoin output txid:vout, if any."""
        raw = self._store.chain_get(minted_key(txid, vout))
        return None if raw is None else Hash32(raw)

    # writing

    def commit_genesis(self, header: BlockHeaderAPI, state_writes: dict[bytes, bytes]) -> None:
        writes = self._block_writes(header, (), ())
        writes[b"genesis"] = self._genesis.to_json().encode()
        self._store.commit(state_writes, writes)
        self._head = StoredBlock(header, ())

    def commit_block(self, header: BlockHeaderAPI, result: BlockResult) -> StoredBlock:
        """Persist the block, its receipts, indexes and state nodes atomically; move the head."""
        writes = self._block_writes(header, result.transactions, result.receipts)
        self._store.commit(result.state_writes, writes)
        self._head = StoredBlock(header, result.transactions)
        return self._head

    @staticmethod
    def _block_writes(
        header: BlockHeaderAPI,
        txs: tuple[BlockTransaction, ...],
        receipts: tuple[ReceiptAPI, ...],
    ) -> dict[bytes, bytes]:
        block_hash = header.hash
        writes = {
            b"H" + block_hash: rlp.encode(header),
            b"N" + _num(header.block_number): block_hash,
            b"B" + block_hash: rlp.encode([tx.encode() for tx in txs]),
            b"R" + block_hash: rlp.encode([receipt.encode() for receipt in receipts]),
            b"head": block_hash,
        }
        for index, (tx, receipt) in enumerate(zip(txs, receipts, strict=True)):
            writes[b"T" + tx.hash] = rlp.encode([header.block_number, index])
            if isinstance(tx, DepositTransaction) and receipt.state_root == _SUCCESS:
                writes[minted_key(tx.txid, tx.vout)] = tx.hash
        return writes

    # transactions, receipts, logs

    def _locate(self, tx_hash: Hash32) -> tuple[int, int] | None:
        raw = self._store.chain_get(b"T" + tx_hash)
        if raw is None:
            return None
        number, index = rlp.decode(raw)
        return int.from_bytes(number, "big"), int.from_bytes(index, "big")

    def transaction(self, tx_hash: Hash32) -> TransactionView | None:
        location = self._locate(tx_hash)
        if location is None or location[0] > self._head.number:
            return None
        block = self.block_by_number(location[0])
        tx = block.transactions[location[1]]
        price = effective_gas_price(tx, block.header.base_fee_per_gas)
        return TransactionView(tx, block.hash, block.number, location[1], price)

    def receipt(self, tx_hash: Hash32) -> ReceiptView | None:
        location = self._locate(tx_hash)
        if location is None or location[0] > self._head.number:
            return None
        return self.block_receipts(self.hash_by_number(location[0]))[location[1]]

    def block_receipts(self, block_hash: Hash32) -> tuple[ReceiptView, ...]:
        block = self.block_by_hash(block_hash)
        return tuple(_receipt_views(block, self.receipts(block_hash)))

    def logs(self, query: LogFilter) -> list[LogView]:
        found: list[LogView] = []
        last = min(query.to_block, self._head.number)
        for number in range(max(query.from_block, 0), last + 1):
            header = self.header_by_hash(self.hash_by_number(number))
            if not _bloom_may_match(header.bloom, query):
                continue
            for receipt in self.block_receipts(header.hash):
                found.extend(log for log in receipt.logs if _log_matches(log, query))
        return found

    def fee_history(
        self, block_count: int, newest_block: int, percentiles: tuple[float, ...]
    ) -> FeeHistory:
        """Base fees, gas-used ratios and tip percentiles (weighted by gas) of a block range."""
        newest = min(newest_block, self._head.number)
        oldest = max(0, newest - block_count + 1)
        base_fees: list[int] = []
        ratios: list[float] = []
        rewards: list[tuple[int, ...]] = []
        header = None
        for number in range(oldest, newest + 1):
            block = self.block_by_number(number)
            header = block.header
            base_fees.append(header.base_fee_per_gas)
            ratios.append(header.gas_used / header.gas_limit)
            if percentiles:
                rewards.append(_tip_percentiles(block, self.receipts(block.hash), percentiles))
        if header is not None:
            base_fees.append(calculate_expected_base_fee_per_gas(header))
        return FeeHistory(oldest, tuple(base_fees), tuple(ratios), tuple(rewards))


def _receipt_views(block: StoredBlock, receipts: tuple[ReceiptAPI, ...]) -> list[ReceiptView]:
    views: list[ReceiptView] = []
    previous_gas = 0
    log_index = 0
    for index, (tx, receipt) in enumerate(zip(block.transactions, receipts, strict=True)):
        logs = []
        for log in receipt.logs:
            topics = tuple(Hash32(topic.to_bytes(32, "big")) for topic in log.topics)
            logs.append(
                LogView(
                    Address(log.address),
                    topics,
                    log.data,
                    block.number,
                    block.hash,
                    tx.hash,
                    index,
                    log_index,
                )
            )
            log_index += 1
        creates = tx.to == CREATE_CONTRACT_ADDRESS
        views.append(
            ReceiptView(
                tx_hash=tx.hash,
                tx_index=index,
                block_hash=block.hash,
                block_number=block.number,
                sender=tx.sender,
                to=None if creates else Address(tx.to),
                type_id=tx.type_id or 0,
                status=1 if receipt.state_root == _SUCCESS else 0,
                cumulative_gas_used=receipt.gas_used,
                gas_used=receipt.gas_used - previous_gas,
                effective_gas_price=effective_gas_price(tx, block.header.base_fee_per_gas),
                contract_address=(
                    Address(generate_contract_address(tx.sender, tx.nonce)) if creates else None
                ),
                logs=tuple(logs),
                bloom=receipt.bloom,
            )
        )
        previous_gas = receipt.gas_used
    return views


def _bloom_may_match(bloom: int, query: LogFilter) -> bool:
    filter_ = BloomFilter(bloom)
    if query.addresses and not any(address in filter_ for address in query.addresses):
        return False
    return all(
        alternatives is None or any(topic in filter_ for topic in alternatives)
        for alternatives in query.topics
    )


def _log_matches(log: LogView, query: LogFilter) -> bool:
    if query.addresses and log.address not in query.addresses:
        return False
    for position, alternatives in enumerate(query.topics):
        if alternatives is None:
            continue
        if position >= len(log.topics) or log.topics[position] not in alternatives:
            return False
    return True


def _tip_percentiles(
    block: StoredBlock, receipts: tuple[ReceiptAPI, ...], percentiles: tuple[float, ...]
) -> tuple[int, ...]:
    base_fee = block.header.base_fee_per_gas
    tips: list[tuple[int, int]] = []
    previous = 0
    for tx, receipt in zip(block.transactions, receipts, strict=True):
        tips.append(
            (
                effective_gas_price(tx, base_fee) - base_fee if tx.max_fee_per_gas else 0,
                receipt.gas_used - previous,
            )
        )
        previous = receipt.gas_used
    if not tips:
        return tuple(0 for _ in percentiles)
    tips.sort()
    cumulative = []
    total = 0
    for _, gas in tips:
        total += gas
        cumulative.append(total)
    return tuple(
        tips[min(bisect.bisect_left(cumulative, total * p / 100), len(tips) - 1)][0]
        for p in percentiles
    )
