"""The sidechain node facade: what the JSON-RPC server and the CLI call.

    node = Node.open(datadir)          # raises NotInitialized if `sluice node init` never ran
    await node.start()                 # starts the block producer (an asyncio task)
    await node.run(node.send_raw_transaction, raw)  # -> tx hash, or a TransactionRejected leaf
    await node.run(node.submit_attestation, att, sig)  # -> AttestationStatus
    node.produce_block()               # -> StoredBlock, now (tests, dev tools)
    await node.stop(); node.close()

The methods are synchronous. py-evm's state and the store are not thread safe, so once the
node is started all chain work goes through `run`, which executes it in the node's one worker
thread, one call at a time (the producer's blocks too): the event loop stays free for cheap
answers while a block is built or a long query runs. Without `start` (tests, tools) call the
methods directly from one thread. `head()` and `chain_id` are safe to read from the loop.

Block numbers passed in are already resolved: the RPC layer maps "latest"/"pending"/"safe"/
"finalized" to `head().number` and "earliest" to 0. Missing blocks raise `UnknownBlock`;
missing transactions and receipts return None.
"""

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Self, TypeVar

from eth_typing import Address, Hash32

from sidechain.attestation import Attestation
from sidechain.chaindata import ChainData
from sidechain.datadir import STORE_DIR
from sidechain.deposits import DepositPool
from sidechain.errors import SidechainError, UnknownBlock
from sidechain.executor.abc import BlockExecutorAPI
from sidechain.executor.registry import make_executor
from sidechain.genesis import Genesis
from sidechain.mempool import Mempool
from sidechain.producer import BlockProducer
from sidechain.queries import StateQueries
from sidechain.store import Store
from sidechain.views import (
    AttestationStatus,
    CallRequest,
    FeeHistory,
    LogFilter,
    LogView,
    ReceiptView,
    StoredBlock,
    TransactionView,
)

logger = logging.getLogger(__name__)

DEFAULT_EXECUTOR = "parallel"  # `Node.open` and `sluice node run` alike
T = TypeVar("T")


class Node:
    """One sidechain node over one data directory."""

    def __init__(
        self,
        store: Store,
        chain: ChainData,
        executor: BlockExecutorAPI,
        block_interval: float,
    ) -> None:
        self._store = store
        self.chain = chain
        self.genesis: Genesis = chain.genesis()
        self.chain_id: int = self.genesis.chain_id
        self.executor = executor
        self.queries = StateQueries(store, chain, self.genesis)
        self.mempool = Mempool(self.genesis.chain_id)
        self.deposits = DepositPool(self.genesis, chain, store)
        self.producer = BlockProducer(store, chain, executor, self.mempool, self.deposits)
        self.block_interval = block_interval
        self.dev = self.genesis.dev
        self._task: asyncio.Task[None] | None = None
        self._wakeup = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sidechain")

    @classmethod
    def open(
        cls,
        datadir: Path,
        *,
        block_interval: float | None = None,
        executor: BlockExecutorAPI | None = None,
        executor_name: str = DEFAULT_EXECUTOR,
        workers: int | None = None,
    ) -> Self:
        """Open an initialised data directory (see `sidechain.genesis.init_datadir`).

        `block_interval` (seconds) defaults to the genesis file's `block_interval`; a dev chain
        also produces a block as soon as a transaction or a deposit is pending. Without an
        `executor`, one is made by name (`sequential` or `parallel` with `workers` processes
        reading this store).
        """
        store = Store(datadir / STORE_DIR)
        chain = ChainData.load(store, datadir)
        genesis = chain.genesis()
        if executor is None:
            executor = make_executor(
                executor_name, genesis.chain_id, store_path=store.path, workers=workers
            )
        return cls(
            store,
            chain,
            executor,
            genesis.block_interval if block_interval is None else block_interval,
        )

    # lifecycle

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """`work(*args)` in the node's worker thread, after the chain work queued before it."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._worker, functools.partial(work, *args))

    async def start(self) -> None:
        """Start producing blocks: every `block_interval` s, and at once when pending (dev)."""
        if self._task is None:
            self._loop = asyncio.get_running_loop()
            self._task = asyncio.create_task(self._produce_forever(), name="block-producer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def close(self) -> None:
        self._worker.shutdown()  # waits for the chain work under way (a block being committed)
        self.executor.close()
        self.queries.close()
        self._store.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
        self.close()

    async def _produce_forever(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=self.block_interval)
            self._wakeup.clear()
            try:
                await self.run(self.producer.produce)
            except SidechainError:
                logger.exception("block production failed; retrying next interval")

    def _poke(self) -> None:
        """A dev node builds a block as soon as something is pending (called from the worker
        thread, hence through the loop)."""
        if self.dev and self._loop is not None:
            self._loop.call_soon_threadsafe(self._wakeup.set)

    # blocks

    def head(self) -> StoredBlock:
        return self.chain.head()

    def block_by_number(self, number: int) -> StoredBlock:
        return self.chain.block_by_number(number)

    def block_by_hash(self, block_hash: Hash32) -> StoredBlock:
        return self.chain.block_by_hash(block_hash)

    def produce_block(self) -> StoredBlock:
        """Build, execute and commit one block now from what is pending (may be empty)."""
        return self.producer.produce()

    # transactions and receipts

    def transaction(self, tx_hash: Hash32) -> TransactionView | None:
        """A mined transaction, or a pending one (location fields None), or None."""
        mined = self.chain.transaction(tx_hash)
        if mined is not None:
            return mined
        pending = self.mempool.get(tx_hash)
        if pending is None:
            return None
        return TransactionView(pending, None, None, None, None)

    def receipt(self, tx_hash: Hash32) -> ReceiptView | None:
        return self.chain.receipt(tx_hash)

    def block_receipts(self, block_hash: Hash32) -> tuple[ReceiptView, ...]:
        return self.chain.block_receipts(block_hash)

    def logs(self, query: LogFilter) -> list[LogView]:
        """Logs matching `query`, in block order; the caller enforces its range limit."""
        return self.chain.logs(query)

    def send_raw_transaction(self, raw: bytes) -> Hash32:
        """Validate and pool a signed transaction; raises a `TransactionRejected` leaf."""
        tx_hash = self.mempool.add(raw, self.queries.pool_view())
        self._poke()
        return tx_hash

    def pending_count(self) -> int:
        return len(self.mempool)

    # deposits

    def submit_attestation(self, attestation: Attestation, signature: bytes) -> AttestationStatus:
        """Record one federation member's signature over a deposit.

        Raises `NotAFederationMember`, `MalformedAttestation` or `AlreadyMinted`. Once
        `threshold` distinct members attested, the next block includes the deposit transaction.
        """
        status = self.deposits.add(attestation, signature)
        if self.deposits.ready():
            self._poke()
        return status

    # state at a block

    def _state_block(self, number: int) -> StoredBlock:
        if number > self.chain.head_number():
            raise UnknownBlock(number)
        return self.chain.block_by_number(number)

    def balance(self, address: Address, block_number: int) -> int:
        return self.queries.balance(self._state_block(block_number).header, address)

    def nonce(self, address: Address, block_number: int) -> int:
        return self.queries.nonce(self._state_block(block_number).header, address)

    def pending_nonce(self, address: Address) -> int:
        """The next nonce counting pooled transactions (eth_getTransactionCount "pending")."""
        return self.mempool.next_nonce(address, self.nonce(address, self.chain.head_number()))

    def code(self, address: Address, block_number: int) -> bytes:
        return self.queries.code(self._state_block(block_number).header, address)

    def storage(self, address: Address, slot: int, block_number: int) -> int:
        return self.queries.storage(self._state_block(block_number).header, address, slot)

    def call(self, request: CallRequest, block_number: int) -> bytes:
        """Run a call on the state after `block_number`; raises `ExecutionReverted` (with data)."""
        return self.queries.call(self._state_block(block_number).header, request)

    def estimate_gas(self, request: CallRequest, block_number: int) -> int:
        """The least gas limit with which the call succeeds; raises `ExecutionReverted`."""
        return self.queries.estimate_gas(self._state_block(block_number).header, request)

    # fees

    def next_base_fee(self) -> int:
        """The base fee of the next block (EIP-1559 from the head)."""
        return self.queries.next_base_fee(self.head().header)

    def max_priority_fee(self) -> int:
        """Suggested tip: the sidechain has no fee market pressure, so a small fixed tip."""
        return self.queries.suggested_tip()

    def gas_price(self) -> int:
        """Suggested legacy gas price: next base fee plus the suggested tip."""
        return self.next_base_fee() + self.max_priority_fee()

    def fee_history(
        self, block_count: int, newest_block: int, percentiles: tuple[float, ...]
    ) -> FeeHistory:
        return self.chain.fee_history(block_count, newest_block, percentiles)
