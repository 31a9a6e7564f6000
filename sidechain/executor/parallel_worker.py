"""One Block-STM worker: speculative execution of transaction batches and trie tasks, per process.

A worker lives across blocks. For each block it opens one LMDB read transaction of the store
(the pre-state is shared through the page cache, never copied) and builds a `View` of it with
the block's committed changes it is sent; it runs each batch in order over that view, keeping
its own speculative writes for its later transactions, and returns per transaction the
outcome and the recorded reads and writes. It commits nothing: a dead worker loses nothing.
`TxRunner` is also what the coordinator uses to re-execute a transaction over committed state.
"""

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from eth.abc import BlockHeaderAPI, ReceiptAPI, StateAPI, VirtualMachineAPI
from eth.rlp.logs import Log
from eth.rlp.receipts import Receipt
from eth.vm.chain_context import ChainContext
from eth.vm.forks.berlin.receipts import TypedReceipt
from eth_typing import Address, Hash32

from sidechain.executor.abc import TxResult
from sidechain.executor.mvstate import (
    Key,
    RecordingAccountDB,
    TrieReader,
    TxAccess,
    View,
)
from sidechain.executor.pipeline import TransactionPipeline
from sidechain.executor.state_root import TrieTask, run_task
from sidechain.store import Snapshot, Store, WriteOverlay
from sidechain.system_tx import BlockTransaction


@dataclass(frozen=True)
class BlockSpec:
    """What a worker needs to execute a block's transactions: where the pre-state is, the
    fork and block environment. Replies carry `block_id`: what a worker still sends about a
    block that failed is then told from the next block's replies."""

    block_id: int
    store_path: Path
    pre_root: Hash32
    vm_class: type[VirtualMachineAPI]
    header: BlockHeaderAPI
    chain_id: int
    unprotected_txs: bool
    ancestor_hashes: tuple[Hash32, ...]
    counter_slots: frozenset[Key]


@dataclass(frozen=True)
class Batch:
    """Transactions `start`.. to execute, after applying the changes committed up to and
    including transaction `committed_upto` (absolute values) that the worker has not seen."""

    start: int
    committed_upto: int
    updates: Mapping[Key, Any]
    codes: Mapping[bytes, bytes]
    txs: tuple[bytes, ...]


@dataclass(frozen=True)
class PortableResult:
    """A `TxResult` in plain values (cheap to pickle), its receipt rebuilt once the block order
    gives the cumulative gas. `receipt_class` is the fork's typed receipt class, or None for a
    legacy receipt."""

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


@dataclass(frozen=True)
class Speculation:
    """A transaction's speculative outcome (None: it was invalid on the worker's view) and its
    recorded access."""

    outcome: PortableResult | None
    access: TxAccess


def _blind_delta_balance(self: StateAPI, address: Address, delta: int) -> None:
    """py-evm's `delta_balance` reads the balance first: as a recorded read, every transfer to
    one hot account would conflict. The recording database keeps credits blind instead."""
    self._account_db.delta_balance(address, delta)  # type: ignore[attr-defined]


@functools.cache
def recording_state_class(vm_class: type[VirtualMachineAPI]) -> type[StateAPI]:
    """`vm_class`'s state class over a `RecordingAccountDB`."""
    base = vm_class.get_state_class()
    return type(
        f"Recording{base.__name__}",
        (base,),
        {"account_db_class": RecordingAccountDB, "delta_balance": _blind_delta_balance},
    )


class TxRunner:
    """A py-evm state of the block's fork over `view`, applying transactions one at a time
    through the shared `TransactionPipeline` and recording what each one read and wrote."""

    def __init__(self, spec: BlockSpec, view: View) -> None:
        context = spec.vm_class.create_execution_context(
            spec.header, spec.ancestor_hashes, ChainContext(spec.chain_id)
        )
        self.state = recording_state_class(spec.vm_class)(view, context, spec.pre_root)  # type: ignore[arg-type]
        self.db: RecordingAccountDB = self.state._account_db  # type: ignore[attr-defined]
        self.db.counter_slots = spec.counter_slots
        # building the state re-sets system contracts' code when it is already equal (py-evm's
        # `set_system_contracts`): a no-op write, dropped here
        self.db.take()
        self.pipeline = TransactionPipeline(spec.chain_id, spec.vm_class, spec.unprotected_txs)
        self.gas_limit = spec.header.gas_limit

    def apply(self, tx: BlockTransaction, cumulative_gas: int) -> tuple[TxResult, TxAccess]:
        """Raises `InvalidTransaction` (and forgets the transaction's changes) like the pipeline."""
        try:
            result = self.pipeline.apply(self.state, tx, cumulative_gas, self.gas_limit)
        except Exception:
            self.discard()
            raise
        return result, self.db.take()

    def speculate(self, tx: BlockTransaction) -> Speculation:
        """The outcome as if no gas were used before `tx`; the coordinator fixes the cumulative
        gas (and checks the block gas limit) at commit. An invalid transaction may be invalid
        only because of what the worker has not seen yet: it is left to the coordinator."""
        try:
            result, access = self.apply(tx, 0)
        except Exception:  # the coordinator re-executes it and raises what it raises
            return Speculation(None, self.db.take())
        return Speculation(PortableResult.of(result), access)

    def discard(self) -> None:
        """Forget an unfinished transaction (and its transient storage, which py-evm clears
        only after a normal return)."""
        if hasattr(self.state, "transient_storage"):
            self.state.clear_transient_storage()
        self.db.take()


class _BlockContext:
    """A worker's state for one block: its snapshot, view, runner and own speculative writes."""

    def __init__(self, spec: BlockSpec, snapshot: Snapshot, updates: Mapping[Key, Any]) -> None:
        self.spec = spec
        self.snapshot = snapshot
        self.view = View(TrieReader(snapshot.state_db(), spec.pre_root))
        self.runner = TxRunner(spec, self.view)
        self.decode = spec.vm_class.get_transaction_builder().decode
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
        for index, raw in enumerate(batch.txs, batch.start):
            speculation = self.runner.speculate(self.decode(raw))
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
                block_id = self.block.spec.block_id
                self.conn.send(("done", block_id, message[1].start, self.block.run(message[1])))
            elif message[0] == "end":
                self._end_block()
            elif message[0] == "trie":
                assert self.block is not None
                self.conn.send(("trie", self.block.spec.block_id, *self._trie(message[1])))

    def _begin_block(
        self, spec: BlockSpec, updates: Mapping[Key, Any], codes: Mapping[bytes, bytes]
    ) -> None:
        self._end_block()
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
    """A worker process's entry point (spawned: LMDB forbids using a parent's environment)."""
    conn.send(("ready",))
    Worker(conn).serve()
