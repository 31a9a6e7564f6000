"""Read-only values the node hands out (blocks, transactions, receipts, logs, fee history).

These are what the JSON-RPC layer renders: every field is already computed (gas used per
transaction, effective gas price, contract address, log indexes), so rendering is formatting.
Addresses and hashes are raw bytes; amounts are int wei; `status` is 1 (success) or 0.
"""

from dataclasses import dataclass

from eth.abc import BlockHeaderAPI
from eth_typing import Address, Hash32

from sidechain.system_tx import BlockTransaction


@dataclass(frozen=True)
class StoredBlock:
    """A block as stored: its header (py-evm `PragueBlockHeader`) and its transactions."""

    header: BlockHeaderAPI
    transactions: tuple[BlockTransaction, ...]

    @property
    def hash(self) -> Hash32:
        return self.header.hash

    @property
    def number(self) -> int:
        return self.header.block_number


@dataclass(frozen=True)
class TransactionView:
    """A transaction and where it is: `block_hash`, `block_number`, `index` are None if pending.

    `tx` is a py-evm signed transaction (legacy or typed; `tx.type_id` is None for legacy) or a
    `DepositTransaction` (type 0x7e). `effective_gas_price` is None while pending.
    """

    tx: BlockTransaction
    block_hash: Hash32 | None
    block_number: int | None
    index: int | None
    effective_gas_price: int | None


@dataclass(frozen=True)
class LogView:
    """One log with its position: `log_index` counts logs across the whole block."""

    address: Address
    topics: tuple[Hash32, ...]
    data: bytes
    block_number: int
    block_hash: Hash32
    tx_hash: Hash32
    tx_index: int
    log_index: int


@dataclass(frozen=True)
class ReceiptView:
    """A receipt with everything `eth_getTransactionReceipt` shows.

    `type_id` is 0 for legacy transactions, 2 for EIP-1559, 0x7e for deposits.
    """

    tx_hash: Hash32
    tx_index: int
    block_hash: Hash32
    block_number: int
    sender: Address
    to: Address | None
    type_id: int
    status: int
    cumulative_gas_used: int
    gas_used: int
    effective_gas_price: int
    contract_address: Address | None
    logs: tuple[LogView, ...]
    bloom: int


@dataclass(frozen=True)
class LogFilter:
    """An eth_getLogs query over blocks `from_block..to_block` (inclusive, already resolved).

    `addresses` empty means any address. `topics[i]` is None (any) or the alternatives for
    position i (a log matches if its topic i is one of them).
    """

    from_block: int
    to_block: int
    addresses: tuple[Address, ...] = ()
    topics: tuple[tuple[Hash32, ...] | None, ...] = ()


@dataclass(frozen=True)
class CallRequest:
    """An eth_call / eth_estimateGas request; None fields take the node's defaults.

    Defaults: sender the zero address, gas the block gas limit, fee fields 0 (a call pays no
    fee unless it names one), value 0, empty data. `to` None means contract creation.
    """

    sender: Address | None = None
    to: Address | None = None
    gas: int | None = None
    gas_price: int | None = None
    max_fee_per_gas: int | None = None
    max_priority_fee_per_gas: int | None = None
    value: int = 0
    data: bytes = b""


@dataclass(frozen=True)
class FeeHistory:
    """eth_feeHistory: `base_fees` has one entry more than `gas_used_ratios` (the next block)."""

    oldest_block: int
    base_fees: tuple[int, ...]
    gas_used_ratios: tuple[float, ...]
    rewards: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class AttestationStatus:
    """Where a deposit stands after an attestation: signers so far, the quorum, inclusion.

    `included_in` is the hash of the deposit transaction once it is in a block.
    """

    deposit_id: str
    signers: tuple[Address, ...]
    threshold: int
    included_in: Hash32 | None
