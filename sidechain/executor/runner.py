"""A block run in block order over a field-level view of the state: what both executors share.

`TxRunner` applies one transaction at a time through the shared `TransactionPipeline` on a py-evm
state of the block's fork whose account database is `RecordingAccountDB` (plain dicts, no trie,
every read and write recorded). `BlockState` is one block's committed view with the fork's
block frame around it: the sequential executor runs every transaction through it; the parallel
executor's coordinator commits its workers' write sets into it and re-executes there what read
stale data. Both compute the state root from the committed changes with the same batched
`StateRootBuilder`, in-process or as tasks over workers.
"""

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass

from eth.abc import BlockHeaderAPI, ComputationAPI, StateAPI, VirtualMachineAPI
from eth.constants import BLANK_ROOT_HASH
from eth.vm.chain_context import ChainContext
from eth.vm.forks.cancun.state import get_total_blob_gas
from eth.vm.logic.call import BaseCall, DelegateCall, StaticCall
from eth_typing import Address, Hash32

from sidechain.executor.abc import (
    BlockExtras,
    BlockResult,
    PreState,
    ProgressHook,
    TxResult,
)
from sidechain.executor.batch_trie import Ref
from sidechain.executor.counter_tracking import CounterOpcodes, CounterTrackingDB
from sidechain.executor.forks import BlockFrame
from sidechain.executor.mvstate import Key, RecordingAccountDB, TrieReader, TxAccess, TxWrites, View
from sidechain.executor.pipeline import TransactionPipeline
from sidechain.executor.state_root import NodeDB, StateRootBuilder, TaskRunner, TrieTask, run_task
from sidechain.executor.trie_root import ordered_trie_root
from sidechain.store import WriteOverlay
from sidechain.system_tx import BlockTransaction, DepositTransaction


@dataclass(frozen=True)
class BlockEnv:
    """What executing a block's transactions needs besides the state: the fork, the block
    environment, the pre-state root and the opt-in commutative counter slots (`counters`)."""

    vm_class: type[VirtualMachineAPI]
    header: BlockHeaderAPI
    chain_id: int
    unprotected_txs: bool
    ancestor_hashes: tuple[Hash32, ...]
    pre_root: Hash32
    counter_slots: frozenset[Key] = frozenset()
    request_contracts: bool = False  # see `ForkSchedule`


def _blind_delta_balance(self: StateAPI, address: Address, delta: int) -> None:
    """py-evm's `delta_balance` reads the balance first: as a recorded read, every transfer to
    one hot account would conflict. The recording database keeps credits blind instead."""
    self._account_db.delta_balance(address, delta)  # type: ignore[attr-defined]


class _CallKeepingBalanceUnread:
    """A CALL-family opcode that does not record the calling contract's balance when no value
    moves. py-evm reads that balance on every call (`eth/vm/logic/call.py`) but only uses it
    to refuse a value transfer the caller cannot pay; recorded, it made every contract that
    receives BTC and then calls out (the rsBTC vault's deposit asks the registry, the pool's
    borrow pays out USDT) conflict with every other transaction paying it. With no value to
    move, the balance given back (0) cannot change what the call does."""

    def __init__(self, opcode: BaseCall) -> None:
        self.opcode = opcode
        self.mnemonic = opcode.mnemonic
        self.has_value = not isinstance(opcode, StaticCall | DelegateCall)

    def __call__(self, computation: ComputationAPI) -> None:
        if not self.has_value or _value_operand(computation) == 0:
            db: RecordingAccountDB = computation.state._account_db  # type: ignore[attr-defined]
            db.unread_balance = computation.msg.storage_address
            try:
                self.opcode(computation=computation)
            finally:
                db.unread_balance = None
        else:
            self.opcode(computation=computation)


def _value_operand(computation: ComputationAPI) -> int | None:
    """CALL's and CALLCODE's value (third on the stack), None if the stack is too short (the
    opcode then fails on its own)."""
    values = computation._stack.values  # type: ignore[attr-defined]
    if len(values) < 3:
        return None
    value = values[-3]
    return value if isinstance(value, int) else int.from_bytes(value, "big")


@functools.cache
def recording_state_class(
    vm_class: type[VirtualMachineAPI], tracks_counters: bool = False
) -> type[StateAPI]:
    """`vm_class`'s state class over a `RecordingAccountDB`, with its CALL opcodes keeping an
    idle balance check unrecorded; `tracks_counters`: over a `CounterTrackingDB`, with the
    opcodes that track counter values (a worker's)."""
    base = vm_class.get_state_class()
    computation = base.computation_class
    opcodes = {
        code: _CallKeepingBalanceUnread(opcode) if isinstance(opcode, BaseCall) else opcode
        for code, opcode in computation.opcodes.items()
    }
    counter_opcodes = CounterOpcodes(opcodes) if tracks_counters else None
    return type(
        f"Recording{base.__name__}",
        (base,),
        {
            "account_db_class": CounterTrackingDB if tracks_counters else RecordingAccountDB,
            "delta_balance": _blind_delta_balance,
            "computation_class": type(
                f"Recording{computation.__name__}",
                (computation,),
                {
                    "opcodes": opcodes if counter_opcodes is None else counter_opcodes.table,
                    "counter_opcodes": counter_opcodes,
                },
            ),
        },
    )


class TxRunner:
    """A py-evm state of the block's fork over `view`, applying transactions one at a time
    through the shared `TransactionPipeline` and recording what each one read and wrote.
    `tracks_counters` (a worker's runner): the block's counter slots are tracked
    (`counter_tracking`), so the coordinator can shift their writes at commit."""

    def __init__(self, env: BlockEnv, view: View, tracks_counters: bool = False) -> None:
        context = env.vm_class.create_execution_context(
            env.header, env.ancestor_hashes, ChainContext(env.chain_id)
        )
        tracks_counters = tracks_counters and bool(env.counter_slots)
        state_class = recording_state_class(env.vm_class, tracks_counters)
        self.state = state_class(view, context, env.pre_root)  # type: ignore[arg-type]
        self.db: RecordingAccountDB = self.state._account_db  # type: ignore[attr-defined]
        if isinstance(self.db, CounterTrackingDB):
            self.db.counter_slots = env.counter_slots
            self.db.opcodes = state_class.computation_class.counter_opcodes  # type: ignore[attr-defined]
        # building the state re-sets system contracts' code when it is already equal (py-evm's
        # `set_system_contracts`): a no-op write, dropped here
        self.db.take()
        self.pipeline = TransactionPipeline(env.chain_id, env.vm_class, env.unprotected_txs)
        self.gas_limit = env.header.gas_limit

    def apply(self, tx: BlockTransaction, cumulative_gas: int) -> tuple[TxResult, TxAccess]:
        """Raises `InvalidTransaction` (and forgets the transaction's changes) like the pipeline."""
        try:
            result = self.pipeline.apply(self.state, tx, cumulative_gas, self.gas_limit)
        except Exception:
            self.discard()
            raise
        return result, self.db.take()

    def discard(self) -> None:
        """Forget an unfinished transaction (and its transient storage, which py-evm clears
        only after a normal return)."""
        if hasattr(self.state, "transient_storage"):
            self.state.clear_transient_storage()
        self.db.take()


def in_process(db: NodeDB, reader: TrieReader) -> TaskRunner:
    """A `TaskRunner` that runs trie tasks here, in order."""

    def run(tasks: Sequence[TrieTask]) -> list[Ref | None]:
        return [run_task(db, reader, task) for task in tasks]

    return run


class BlockState:
    """One block's committed state: the pre-state view with every committed transaction's
    writes, the fork's frame around the transactions, and the new trie nodes (`overlay`)."""

    def __init__(self, env: BlockEnv, pre_state: PreState, extras: BlockExtras) -> None:
        self.env = env
        self.extras = extras
        self._list_roots: ListRoots | None = None
        self.overlay = WriteOverlay(pre_state.db)
        self.committed = View(TrieReader(pre_state.db, pre_state.state_root))
        self.runner = TxRunner(env, self.committed)
        # forks before Byzantium put the state root after each transaction in its receipt
        self.runner.db.root_of = self._intermediate_root
        self.frame = BlockFrame(
            env.vm_class,
            self.runner.state,
            env.header.copy(state_root=pre_state.state_root),
            env.chain_id,
            extras.uncles,
            extras.withdrawals,
            env.request_contracts,
        )

    def begin(self) -> TxWrites:
        """The fork's pre-block changes (system calls), for the caller to commit."""
        self.frame.begin()
        return self.runner.db.take().changes

    def commit(self, changes: TxWrites) -> list[Key]:
        """Apply a transaction's changes in block order; returns the keys whose values changed."""
        return self.committed.apply(changes)

    def apply(self, tx: BlockTransaction, cumulative_gas: int) -> TxResult:
        """Execute `tx` on the committed state and commit it."""
        result, access = self.runner.apply(tx, cumulative_gas)
        self.commit(access.changes)
        return result

    def finish(
        self, txs: tuple[BlockTransaction, ...], results: Sequence[TxResult]
    ) -> Hash32 | None:
        """The fork's block end (withdrawals, requests, rewards or our fee credit), committed;
        returns the requests hash."""
        requests_hash = self.frame.finish(txs, tuple(result.receipt for result in results))
        self.commit(self.runner.db.take().changes)
        return requests_hash

    def state_root(self, run_tasks: TaskRunner | None = None) -> Hash32:
        """The post-state root; its trie tasks run through `run_tasks` (default: here)."""
        run_tasks = run_tasks or in_process(self.overlay, self.committed.pre)
        builder = StateRootBuilder(self.overlay, self.committed.pre, run_tasks)
        return builder.root(self.committed.data)

    def _intermediate_root(self, changes: TxWrites) -> Hash32:
        """The root with `changes` applied after what is committed; its nodes are not kept."""
        view = self.committed.copy()
        view.apply(changes)
        scratch = WriteOverlay(self.overlay)
        builder = StateRootBuilder(scratch, view.pre, in_process(scratch, view.pre))
        return builder.root(view.data)

    def result(
        self,
        txs: tuple[BlockTransaction, ...],
        results: Sequence[TxResult],
        state_root: Hash32,
        requests_hash: Hash32 | None,
    ) -> BlockResult:
        """The `BlockResult`, with the contract codes the block created among its writes."""
        for code_hash, code in self.committed.codes.items():
            self.overlay[code_hash] = code
        roots = self.list_roots(txs, results)
        receipts = tuple(result.receipt for result in results)
        bloom = 0
        for receipt in receipts:
            bloom |= receipt.bloom
        return BlockResult(
            transactions=txs,
            results=tuple(results),
            gas_used=receipts[-1].gas_used if receipts else 0,
            fees=sum(result.fee for result in results),
            state_root=state_root,
            transactions_root=roots.transactions,
            receipts_root=roots.receipts,
            bloom=bloom,
            blob_gas_used=sum(
                get_total_blob_gas(tx) for tx in txs if not isinstance(tx, DepositTransaction)
            ),
            requests_hash=requests_hash,
            state_writes=self.overlay.writes,
            withdrawals_root=roots.withdrawals,
        )

    def list_roots(
        self, txs: tuple[BlockTransaction, ...], results: Sequence[TxResult]
    ) -> "ListRoots":
        """The roots of the block's lists, computed once (the parallel executor computes
        them while its workers build the state root)."""
        if self._list_roots is None:
            withdrawals = self.extras.withdrawals
            self._list_roots = ListRoots(
                transactions=ordered_trie_root([tx.encode() for tx in txs]),
                receipts=ordered_trie_root([result.receipt.encode() for result in results]),
                withdrawals=(
                    ordered_trie_root([w.encode() for w in withdrawals])
                    if withdrawals
                    else BLANK_ROOT_HASH
                ),
            )
        return self._list_roots


@dataclass(frozen=True)
class ListRoots:
    """The roots of a block's transactions, receipts and withdrawals lists."""

    transactions: Hash32
    receipts: Hash32
    withdrawals: Hash32


class Progress:
    """Tells a `ProgressHook` how far a block of `total` transactions is, about every 1%."""

    def __init__(self, hook: ProgressHook | None, total: int) -> None:
        self.hook = hook
        self.total = total
        self.step = max(1, total // 100)

    def __call__(self, done: int) -> None:
        if self.hook is not None and (done % self.step == 0 or done == self.total):
            self.hook(done, self.total)


class PhaseClock:
    """Seconds spent per phase of a block, for `ExecutionStats.time_split`; a phase timed more
    than once adds up."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, phase: str) -> None:
        """The time since the last lap goes to `phase`."""
        now = time.perf_counter()
        self.add(phase, now - self._last)
        self._last = now

    def add(self, phase: str, seconds: float) -> None:
        self.laps[phase] = self.laps.get(phase, 0.0) + seconds

    def rounded(self) -> dict[str, float]:
        return {phase: round(seconds, 4) for phase, seconds in self.laps.items()}
