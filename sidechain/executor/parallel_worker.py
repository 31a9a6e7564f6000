"""One Block-STM worker: speculative execution of transaction batches and trie tasks, per process.

A worker lives across blocks. For each block it opens one LMDB read transaction of the store
(the pre-state is shared through the page cache, never copied) and builds a `View` of it with
the block's committed changes it is sent; it runs each batch in order over that view, keeping
its own speculative writes for its later transactions, and returns per transaction the
outcome and the recorded reads and writes. It commits nothing: a dead worker loses nothing.
"""

import gc
import time
from collections.abc import Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, NamedTuple

from eth.abc import ReceiptAPI
from eth.rlp.logs import Log
from eth.rlp.receipts import Receipt
from eth.vm.forks.berlin.receipts import TypedReceipt
from eth_typing import Address, Hash32

from sidechain.executor.abc import TxResult
from sidechain.executor.mvstate import Key, TrieReader, TxAccess, View
from sidechain.executor.runner import BlockEnv, TxRunner
from sidechain.executor.state_root import TrieTask, run_task
from sidechain.store import Snapshot, Store, WriteOverlay
from sidechain.system_tx import BlockTransaction


@dataclass(frozen=True)
class BlockSpec:
    """What a worker needs to execute a block's transactions: where the pre-state is, and the
    block's environment. Replies carry `block_id`: what a worker still sends about a block
    that failed is then told from the next block's replies."""

    block_id: int
    store_path: Path
    env: BlockEnv


@dataclass(frozen=True)
class Batch:
    """Transactions `start`.. to execute, after applying the changes committed up to and
    including transaction `committed_upto` (absolute values) that the worker has not seen.
    The transactions travel pickled, not encoded: unpickling is about 8 times cheaper than
    decoding, and a sender the coordinator's object already recovered comes along."""

    start: int
    committed_upto: int
    updates: Mapping[Key, Any]
    codes: Mapping[bytes, bytes]
    txs: tuple[BlockTransaction, ...]


class PortableResult(NamedTuple):
    """A `TxResult` in plain values (a named tuple: cheap to pickle and unpickle), its receipt
    rebuilt once the block order gives the cumulative gas. `receipt_class` is the fork's typed
    receipt class, or None for a legacy receipt."""

    tx_hash: Hash32
    receipt_class: type[TypedReceipt] | None
    type_id: int
    status: bytes
    bloom: int
    logs: tuple[tuple[bytes, tuple[int, ...], bytes], ...]
    gas_used: int
    effective_gas_price: int
    fee: int
    contract_address: Address | None
    error: str | None
    output: bytes

    @classmethod
    def of(cls, result: TxResult) -> "PortableResult":
        receipt = result.receipt
        typed = isinstance(receipt, TypedReceipt)
        return cls(
            tx_hash=result.tx_hash,
            receipt_class=type(receipt) if typed else None,  # type: ignore[arg-type]
            type_id=receipt.type_id if typed else 0,  # type: ignore[attr-defined]
            status=receipt.state_root,
            bloom=receipt.bloom,
            logs=tuple((log.address, tuple(log.topics), log.data) for log in receipt.logs),
            gas_used=result.gas_used,
            effective_gas_price=result.effective_gas_price,
            fee=result.fee,
            contract_address=result.contract_address,
            error=result.error,
            output=result.output,
        )

    def result(self, cumulative_gas: int) -> TxResult:
        """The `TxResult`, its receipt counting `cumulative_gas` used in the block so far."""
        logs = [Log(address, topics, data) for address, topics, data in self.logs]
        receipt: ReceiptAPI = Receipt(self.status, cumulative_gas, logs, self.bloom)
        if self.receipt_class is not None:
            receipt = self.receipt_class(self.type_id, receipt)
        return TxResult(
            tx_hash=self.tx_hash,
            receipt=receipt,
            gas_used=self.gas_used,
            effective_gas_price=self.effective_gas_price,
            fee=self.fee,
            contract_address=self.contract_address,
            error=self.error,
            output=self.output,
        )


class Speculation(NamedTuple):
    """A transaction's speculative outcome (None: it was invalid on the worker's view) and its
    recorded access."""

    outcome: PortableResult | None
    access: TxAccess


def speculate(runner: TxRunner, tx: BlockTransaction) -> Speculation:
    """The outcome as if no gas were used before `tx`; the coordinator fixes the cumulative gas
    (and checks the block gas limit) at commit. An invalid transaction may be invalid only
    because of what the worker has not seen yet: it is left to the coordinator."""
    try:
        result, access = runner.apply(tx, 0)
    except Exception:  # the coordinator re-executes it and raises what it raises
        return Speculation(None, runner.db.take())
    return Speculation(PortableResult.of(result), access)


class _BlockContext:
    """A worker's state for one block: its snapshot, view, runner and own speculative writes."""

    def __init__(self, spec: BlockSpec, snapshot: Snapshot, updates: Mapping[Key, Any]) -> None:
        self.spec = spec
        self.snapshot = snapshot
        self.view = View(TrieReader(snapshot.state_db(), spec.env.pre_root))
        self.runner = TxRunner(spec.env, self.view, tracks_counters=True)
        self.view.set_all(updates)
        self._own: dict[Key, int] = {}  # key -> index of this worker's newest write to it

    def run(self, batch: Batch) -> list[Speculation]:
        self.view.codes.update(batch.codes)
        self.view.set_all(
            {
                key: value
                for key, value in batch.updates.items()
                if self._own.get(key, -1) <= batch.committed_upto
            }
        )
        out = []
        for index, tx in enumerate(batch.txs, batch.start):
            speculation = speculate(self.runner, tx)
            for key in self.view.apply(speculation.access.changes):
                self._own[key] = index
            out.append(speculation)
        return out


class Worker:
    """The message loop of one worker process (see `sidechain.executor.parallel`)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.store: Store | None = None
        self.block: _BlockContext | None = None
        self._pickling = 0.0

    def serve(self) -> None:
        while True:
            try:
                message = self.conn.recv()
            except EOFError:  # the coordinator is gone
                message = ("stop",)
            if message[0] == "stop":
                self._end_block()
                if self.store is not None:
                    self.store.close()
                return
            if message[0] == "block":
                self._begin_block(message[1], message[2], message[3])
            elif message[0] == "run":
                assert self.block is not None
                started = time.perf_counter()
                speculations = self.block.run(message[1])
                ran = time.perf_counter() - started
                block_id = self.block.spec.block_id
                self._reply(("done", block_id, message[1].start, speculations, ran, self._pickling))
            elif message[0] == "end":
                self._end_block()
            elif message[0] == "trie":
                assert self.block is not None
                self._reply(("trie", self.block.spec.block_id, *self._trie(message[1])))

    def _reply(self, message: tuple[Any, ...]) -> None:
        """Send `message`; the seconds spent pickling and writing it are added up per block
        and reported with the next batch's results."""
        started = time.perf_counter()
        self.conn.send(message)
        self._pickling += time.perf_counter() - started

    def _begin_block(
        self, spec: BlockSpec, updates: Mapping[Key, Any], codes: Mapping[bytes, bytes]
    ) -> None:
        self._end_block()
        self._pickling = 0.0
        if self.store is None or self.store.path != spec.store_path:
            if self.store is not None:
                self.store.close()
            self.store = Store(spec.store_path)
        self.block = _BlockContext(spec, self.store.snapshot(), updates)
        self.block.view.codes.update(codes)

    def _end_block(self) -> None:
        if self.block is not None:
            self.block.snapshot.close()
            self.block = None

    def _trie(self, tasks: list[TrieTask]) -> tuple[list[object], dict[bytes, bytes]]:
        assert self.block is not None
        db = WriteOverlay(self.block.snapshot.state_db())
        refs = [run_task(db, self.block.view.pre, task) for task in tasks]
        return refs, db.writes


def worker_main(conn: Connection) -> None:
    """A worker process's entry point (spawned: LMDB forbids using a parent's environment).

    What is imported by now (py-evm: about 67k objects) lives as long as the worker: frozen,
    the garbage collector's full passes no longer walk it (35 ms each, measured)."""
    gc.freeze()
    conn.send(("ready",))
    Worker(conn).serve()
