"""The eth_, net_ and web3_ methods: chain, state, calls, fees, transactions, blocks and logs."""

import platform
from importlib import metadata
from typing import Any

from eth_typing import Address, Hash32

from sidechain.errors import UnknownBlock
from sidechain.node import Node
from sidechain.rpc import blocks, serialize
from sidechain.rpc.logs import LogReader
from sidechain.rpc.params import (
    Params,
    ValueInvalid,
    address,
    block_id,
    block_number_or_tag,
    boolean,
    call_request,
    data,
    hash32,
    log_query,
    quantity,
    storage_slot,
)
from sidechain.rpc.server import AnyHandler

MAX_FEE_HISTORY_BLOCKS = 1024
MAX_REWARD_PERCENTILES = 100


def client_version() -> str:
    try:
        version = metadata.version("sluice-l2")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return f"sluice/v{version}/python{platform.python_version()}"


class EthMethods:
    """The Ethereum JSON-RPC methods a wallet or web3.py needs, over one node."""

    def __init__(self, node: Node, logs: LogReader) -> None:
        self._node = node
        self._logs = logs

    def table(self) -> dict[str, AnyHandler]:
        """Async methods answer on the event loop (they read no state: ids, the head number,
        fee suggestions); the others do chain work and run in the node's worker thread."""
        return {
            "web3_clientVersion": self.client_version,
            "net_version": self.net_version,
            "net_listening": self.net_listening,
            "eth_chainId": self.chain_id,
            "eth_syncing": self.syncing,
            "eth_accounts": self.accounts,
            "eth_blockNumber": self.block_number,
            "eth_getBalance": self.get_balance,
            "eth_getTransactionCount": self.get_transaction_count,
            "eth_getCode": self.get_code,
            "eth_getStorageAt": self.get_storage_at,
            "eth_call": self.call,
            "eth_estimateGas": self.estimate_gas,
            "eth_gasPrice": self.gas_price,
            "eth_maxPriorityFeePerGas": self.max_priority_fee_per_gas,
            "eth_feeHistory": self.fee_history,
            "eth_sendRawTransaction": self.send_raw_transaction,
            "eth_getTransactionByHash": self.get_transaction_by_hash,
            "eth_getTransactionReceipt": self.get_transaction_receipt,
            "eth_getBlockByNumber": self.get_block_by_number,
            "eth_getBlockByHash": self.get_block_by_hash,
            "eth_getBlockTransactionCountByNumber": self.block_transaction_count_by_number,
            "eth_getBlockTransactionCountByHash": self.block_transaction_count_by_hash,
            "eth_getBlockReceipts": self.get_block_receipts,
            "eth_getLogs": self.get_logs,
        }

    # chain

    async def client_version(self, params: Params) -> str:
        params.expect(0)
        return client_version()

    async def net_version(self, params: Params) -> str:
        params.expect(0)
        return str(self._node.chain_id)

    async def net_listening(self, params: Params) -> bool:
        params.expect(0)
        return True

    async def chain_id(self, params: Params) -> str:
        params.expect(0)
        return hex(self._node.chain_id)

    async def syncing(self, params: Params) -> bool:
        """The node makes its own blocks: it is never behind."""
        params.expect(0)
        return False

    async def accounts(self, params: Params) -> list[str]:
        """The node holds no keys: transactions are signed by the client."""
        params.expect(0)
        return []

    async def block_number(self, params: Params) -> str:
        params.expect(0)
        return hex(self._node.head().number)

    # state

    def _state_args(self, params: Params) -> tuple[Address, int]:
        params.expect(1, 1)
        return Address(params.get(0, address)), self._block_at(params, 1)

    def _block_at(self, params: Params, index: int) -> int:
        return blocks.resolve(self._node, params.optional(index, block_id, "latest"))

    def get_balance(self, params: Params) -> str:
        account, number = self._state_args(params)
        return hex(self._node.balance(account, number))

    def get_transaction_count(self, params: Params) -> str:
        params.expect(1, 1)
        account = Address(params.get(0, address))
        if params.optional(1, block_id, "latest") == "pending":
            return hex(self._node.pending_nonce(account))
        return hex(self._node.nonce(account, self._block_at(params, 1)))

    def get_code(self, params: Params) -> str:
        account, number = self._state_args(params)
        return serialize.data(self._node.code(account, number))

    def get_storage_at(self, params: Params) -> str:
        params.expect(2, 1)
        account = Address(params.get(0, address))
        position = params.get(1, storage_slot)
        value = self._node.storage(account, position, self._block_at(params, 2))
        return serialize.slot(value)

    def call(self, params: Params) -> str:
        params.expect(1, 1)
        request = params.get(0, call_request)
        return serialize.data(self._node.call(request, self._block_at(params, 1)))

    def estimate_gas(self, params: Params) -> str:
        params.expect(1, 1)
        request = params.get(0, call_request)
        return hex(self._node.estimate_gas(request, self._block_at(params, 1)))

    # fees

    async def gas_price(self, params: Params) -> str:
        params.expect(0)
        return hex(self._node.gas_price())

    async def max_priority_fee_per_gas(self, params: Params) -> str:
        params.expect(0)
        return hex(self._node.max_priority_fee())

    def fee_history(self, params: Params) -> dict[str, Any]:
        params.expect(2, 1)
        count = params.get(0, _block_count)
        newest = blocks.resolve(self._node, params.get(1, block_number_or_tag))
        percentiles = params.optional(2, _percentiles, ())
        history = self._node.fee_history(count, newest, percentiles)
        return serialize.fee_history(history, with_rewards=bool(percentiles))

    # transactions

    def send_raw_transaction(self, params: Params) -> str:
        params.expect(1)
        return serialize.data(self._node.send_raw_transaction(params.get(0, data)))

    def get_transaction_by_hash(self, params: Params) -> dict[str, Any] | None:
        params.expect(1)
        view = self._node.transaction(Hash32(params.get(0, hash32)))
        return None if view is None else serialize.transaction(view)

    def get_transaction_receipt(self, params: Params) -> dict[str, Any] | None:
        params.expect(1)
        view = self._node.receipt(Hash32(params.get(0, hash32)))
        return None if view is None else serialize.receipt(view)

    # blocks: an unknown block is a null result, not an error (as in geth)

    def get_block_by_number(self, params: Params) -> dict[str, Any] | None:
        params.expect(2)
        full = params.get(1, boolean)
        try:
            number = blocks.resolve(self._node, params.get(0, block_number_or_tag))
            return serialize.block(self._node.block_by_number(number), full)
        except UnknownBlock:
            return None

    def get_block_by_hash(self, params: Params) -> dict[str, Any] | None:
        params.expect(2)
        block_hash = Hash32(params.get(0, hash32))
        full = params.get(1, boolean)
        try:
            return serialize.block(self._node.block_by_hash(block_hash), full)
        except UnknownBlock:
            return None

    def block_transaction_count_by_number(self, params: Params) -> str | None:
        params.expect(1)
        try:
            number = blocks.resolve(self._node, params.get(0, block_number_or_tag))
            return hex(len(self._node.block_by_number(number).transactions))
        except UnknownBlock:
            return None

    def block_transaction_count_by_hash(self, params: Params) -> str | None:
        params.expect(1)
        try:
            block = self._node.block_by_hash(Hash32(params.get(0, hash32)))
            return hex(len(block.transactions))
        except UnknownBlock:
            return None

    def get_block_receipts(self, params: Params) -> list[dict[str, Any]] | None:
        params.expect(1)
        try:
            number = blocks.resolve(self._node, params.get(0, block_id))
            block_hash = self._node.block_by_number(number).hash
        except UnknownBlock:
            return None
        return [serialize.receipt(view) for view in self._node.block_receipts(block_hash)]

    # logs

    def get_logs(self, params: Params) -> list[dict[str, Any]]:
        params.expect(1)
        query = params.get(0, log_query)
        first, last = self._logs.range_of(query)
        return [serialize.log(entry) for entry in self._logs.read(query, first, last)]


def _block_count(value: Any) -> int:
    """geth takes a hex quantity or a plain JSON integer here."""
    count = value if isinstance(value, int) and not isinstance(value, bool) else quantity(value)
    if not 0 <= count <= MAX_FEE_HISTORY_BLOCKS:
        raise ValueInvalid(f"block count must be 0..{MAX_FEE_HISTORY_BLOCKS}, got {count}")
    return count


def _percentiles(value: Any) -> tuple[float, ...]:
    if not isinstance(value, list) or len(value) > MAX_REWARD_PERCENTILES:
        raise ValueInvalid(
            f"reward percentiles must be a list of at most {MAX_REWARD_PERCENTILES} numbers, "
            f"got {value!r}"
        )
    previous = 0.0
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int | float) or not 0 <= item <= 100:
            raise ValueInvalid(f"reward percentile must be a number in 0..100, got {item!r}")
        if item < previous:
            raise ValueInvalid(f"reward percentiles must not decrease, got {value!r}")
        previous = item
    return tuple(float(item) for item in value)
