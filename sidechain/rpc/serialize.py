"""Blocks, transactions, receipts and logs as Ethereum JSON-RPC objects (hex, as geth sends)."""

from typing import Any

import rlp
from eth.abc import BlockHeaderAPI
from eth_utils import to_checksum_address

from sidechain.system_tx import BlockTransaction, DepositTransaction
from sidechain.views import (
    AttestationStatus,
    FeeHistory,
    LogView,
    ReceiptView,
    StoredBlock,
    TransactionView,
)
from sidechain.vm import SluiceBlock, effective_gas_price

LEGACY_TYPE = 0
ACCESS_LIST_TYPE = 1
BLOOM_BYTES = 256

# Header attributes shown when the fork has them (all of them from Prague on).
_FORK_FIELDS = (
    ("baseFeePerGas", "base_fee_per_gas", hex),
    ("withdrawalsRoot", "withdrawals_root", lambda value: data(value)),
    ("blobGasUsed", "blob_gas_used", hex),
    ("excessBlobGas", "excess_blob_gas", hex),
    ("parentBeaconBlockRoot", "parent_beacon_block_root", lambda value: data(value)),
    ("requestsHash", "requests_hash", lambda value: data(value)),
)


def data(value: bytes) -> str:
    return "0x" + value.hex()


def address(value: bytes | None) -> str | None:
    return None if not value else to_checksum_address(value)


def slot(value: int) -> str:
    return data(value.to_bytes(32, "big"))


def bloom(value: int) -> str:
    return data(value.to_bytes(BLOOM_BYTES, "big"))


def tx_type(tx: BlockTransaction) -> int:
    return tx.type_id or LEGACY_TYPE


def transaction(view: TransactionView) -> dict[str, Any]:
    """A transaction object; block fields are null while it is pending."""
    tx = view.tx
    kind = tx_type(tx)
    body: dict[str, Any] = {
        "blockHash": None if view.block_hash is None else data(view.block_hash),
        "blockNumber": None if view.block_number is None else hex(view.block_number),
        "transactionIndex": None if view.index is None else hex(view.index),
        "hash": data(tx.hash),
        "type": hex(kind),
        "from": address(tx.sender),
        "to": address(tx.to),
        "nonce": hex(tx.nonce),
        "gas": hex(tx.gas),
        "value": hex(tx.value),
    }
    body["input"] = data(tx.data)
    if isinstance(tx, DepositTransaction):
        return body | _deposit_fields(tx)
    body |= {"r": hex(tx.r), "s": hex(tx.s)}
    if kind == LEGACY_TYPE:
        body |= {"gasPrice": hex(tx.gas_price), "v": hex(tx.v)}  # type: ignore[attr-defined]
        if tx.chain_id is not None:
            body["chainId"] = hex(tx.chain_id)
        return body
    body |= {
        "chainId": hex(tx.chain_id),
        "v": hex(tx.y_parity),
        "yParity": hex(tx.y_parity),
        "accessList": [
            {"address": address(account), "storageKeys": [slot(key) for key in keys]}
            for account, keys in tx.access_list
        ],
    }
    if kind == ACCESS_LIST_TYPE:
        body["gasPrice"] = hex(tx.gas_price)
        return body
    price = tx.max_fee_per_gas if view.effective_gas_price is None else view.effective_gas_price
    return body | {
        "gasPrice": hex(price),
        "maxFeePerGas": hex(tx.max_fee_per_gas),
        "maxPriorityFeePerGas": hex(tx.max_priority_fee_per_gas),
    }


def _deposit_fields(tx: DepositTransaction) -> dict[str, Any]:
    """A deposit has no signature nor fee; it shows the Bitcoin output it mints for."""
    return {
        "gasPrice": hex(0),
        "depositId": tx.deposit_id,
        "asset": hex(tx.asset),
        "amount": hex(tx.amount),
        "recipient": address(tx.recipient),
        "signatures": [data(signature) for signature in tx.signatures],
    }


def log(entry: LogView) -> dict[str, Any]:
    return {
        "address": address(entry.address),
        "topics": [data(topic) for topic in entry.topics],
        "data": data(entry.data),
        "blockNumber": hex(entry.block_number),
        "blockHash": data(entry.block_hash),
        "transactionHash": data(entry.tx_hash),
        "transactionIndex": hex(entry.tx_index),
        "logIndex": hex(entry.log_index),
        "removed": False,
    }


def receipt(view: ReceiptView) -> dict[str, Any]:
    return {
        "transactionHash": data(view.tx_hash),
        "transactionIndex": hex(view.tx_index),
        "blockHash": data(view.block_hash),
        "blockNumber": hex(view.block_number),
        "from": address(view.sender),
        "to": address(view.to),
        "contractAddress": address(view.contract_address),
        "cumulativeGasUsed": hex(view.cumulative_gas_used),
        "gasUsed": hex(view.gas_used),
        "effectiveGasPrice": hex(view.effective_gas_price),
        "logs": [log(entry) for entry in view.logs],
        "logsBloom": bloom(view.bloom),
        "status": hex(view.status),
        "type": hex(view.type_id),
    }


def block(stored: StoredBlock, full_transactions: bool) -> dict[str, Any]:
    """A block object with transaction hashes, or full transaction objects if asked."""
    header = stored.header
    if full_transactions:
        transactions: list[Any] = [
            transaction(
                TransactionView(
                    tx, stored.hash, stored.number, index, _effective_gas_price(tx, header)
                )
            )
            for index, tx in enumerate(stored.transactions)
        ]
    else:
        transactions = [data(tx.hash) for tx in stored.transactions]
    body: dict[str, Any] = {
        "number": hex(header.block_number),
        "hash": data(header.hash),
        "parentHash": data(header.parent_hash),
        "nonce": data(header.nonce),
        "mixHash": data(header.mix_hash),
        "sha3Uncles": data(header.uncles_hash),
        "logsBloom": bloom(header.bloom),
        "transactionsRoot": data(header.transaction_root),
        "stateRoot": data(header.state_root),
        "receiptsRoot": data(header.receipt_root),
        "miner": address(header.coinbase),
        "difficulty": hex(header.difficulty),
        "totalDifficulty": hex(0),
        "extraData": data(header.extra_data),
        "size": hex(block_size(stored)),
        "gasLimit": hex(header.gas_limit),
        "gasUsed": hex(header.gas_used),
        "timestamp": hex(header.timestamp),
        "transactions": transactions,
        "uncles": [],
    }
    for key, attribute, encode in _FORK_FIELDS:
        if hasattr(header, attribute):
            body[key] = encode(getattr(header, attribute))
    if hasattr(header, "withdrawals_root"):
        body["withdrawals"] = []
    return body


def _effective_gas_price(tx: BlockTransaction, header: BlockHeaderAPI) -> int:
    return effective_gas_price(tx, header.base_fee_per_gas)


def block_size(stored: StoredBlock) -> int:
    """RLP size of the block (header, transactions, no uncles, no withdrawals), as geth counts."""
    return len(raw_block(stored))


def raw_block(stored: StoredBlock) -> bytes:
    """The block's RLP as geth's debug_getRawBlock gives it: header, transactions (deposit
    transactions included, as their typed 0x7e encoding), no uncles, no withdrawals."""
    return bytes(rlp.encode(SluiceBlock(stored.header, stored.transactions, [], [])))


def decode_raw_block(raw: bytes) -> StoredBlock:
    """The block `raw_block` encoded; raises `rlp.DecodingError` (or a transaction's own
    decoding error) for bytes that are not one."""
    block = rlp.decode(raw, sedes=SluiceBlock)
    return StoredBlock(block.header, tuple(block.transactions))


def fee_history(history: FeeHistory, with_rewards: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "oldestBlock": hex(history.oldest_block),
        "baseFeePerGas": [hex(fee) for fee in history.base_fees],
        "gasUsedRatio": list(history.gas_used_ratios),
        "baseFeePerBlobGas": [hex(0) for _ in history.base_fees],
        "blobGasUsedRatio": [0.0 for _ in history.gas_used_ratios],
    }
    if with_rewards:
        body["reward"] = [[hex(tip) for tip in tips] for tips in history.rewards]
    return body


def attestation_status(status: AttestationStatus) -> dict[str, Any]:
    return {
        "depositId": status.deposit_id,
        "signers": [address(signer) for signer in status.signers],
        "threshold": status.threshold,
        "quorum": len(status.signers) >= status.threshold,
        "transactionHash": None if status.included_in is None else data(status.included_in),
    }
