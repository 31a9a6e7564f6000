"""The parallel executor: Block-STM over persistent worker processes, identical to sequential.

The coordinator (the caller's process) runs the fork's pre-block system calls, sends batches of
transactions to the workers (`parallel_worker`), which execute them speculatively and return
each one's outcome with its recorded reads and writes. In block order the coordinator then
validates each transaction against the committed state (its pre-state reads not overwritten,
its other reads unchanged, commutative counters rebased), commits it, or re-executes it itself
over the committed state, which is always valid. The fee credit is applied once at block end
through the fork's own block end (`BlockFrame.finish`), and the state root is computed from the
committed changes as trie tasks spread over the workers (`state_root`).

Small blocks, blocks without a store the workers can open, and forks before Byzantium (their
receipts hold the state root after each transaction) run on the sequential executor.
A block whose speculation mostly fails (a dependency chain) stops dispatching and finishes
in-process. A worker that dies is replaced; its unfinished batches run in the coordinator.
"""

import contextlib
import dataclasses
import gc
import itertools
import multiprocessing
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from eth.abc import BlockHeaderAPI, VirtualMachineAPI
from eth.vm.forks import ByzantiumVM

from sidechain.errors import ExecutionError
from sidechain.executor.abc import (
    NO_EXTRAS,
    BlockExecutorAPI,
    BlockExtras,
    BlockResult,
    ExecutionStats,
    PreState,
    TxResult,
)
from sidechain.executor.batch_trie import Ref
from sidechain.executor.counters import CounterSlot, counter_keys, rebased, sluice_counter_slots
from sidechain.executor.forks import SLUICE_FORKS, ForkSchedule
from sidechain.executor.mvstate import SLOT, WIPE, Key, TxWrites
from sidechain.executor.parallel_worker import (
    Batch,
    BlockSpec,
    PortableResult,
    Speculation,
    worker_main,
)
from sidechain.executor.runner import BlockState, PhaseClock, Progress
from sidechain.executor.sequential import SequentialExecutor
from sidechain.executor.state_root import ACCOUNT_TRIE, TrieTask, run_task
from sidechain.system_tx import BlockTransaction

MIN_PARALLEL_TXS = 64  # measured: below about 50 transactions the per-block round trips cost more
_BATCH_SIZES = (8, 16, 32)  # small first batches: a dependency chain shows within a few dozen txs
_TAIL = 64  # the last transactions, in the smallest batches
_DEPTH = 2  # batches in flight per worker, so a worker never waits for the coordinator
_WINDOW = 16  # the last speculative outcomes looked at to detect a dependency chain
_PROBE_AFTER = 64  # transactions run here, once speculation stopped, before trying it again
# (doubled each time a probe finds the chain still there)
_PROBE_LEAD = 32  # a probe speculates that far ahead, so the coordinator never waits for it
_MAX_DEATHS_PER_BLOCK = 4
_GONE = object()


class WorkerStartFailed(ExecutionError):
    def __init__(self, pid: int | None, exitcode: int | None) -> None:
        super().__init__(f"parallel executor worker {pid} exited ({exitcode}) before it was ready")
        self.pid = pid
        self.exitcode = exitcode


class WorkersKeepDying(ExecutionError):
    def __init__(self, deaths: int) -> None:
        super().__init__(f"parallel executor workers died {deaths} times in one block")
        self.deaths = deaths


class WorkerPool:
    """Worker processes started once (spawn: LMDB forbids using a forked parent's environment)
    and replaced when one dies."""

    def __init__(self, size: int) -> None:
        self._context = multiprocessing.get_context("spawn")
        self.conns: list[Connection] = []
        self.procs: list[BaseProcess] = []
        for _ in range(size):
            conn, process = self._spawn()
            self.conns.append(conn)
            self.procs.append(process)

    def _spawn(self) -> tuple[Connection, BaseProcess]:
        """A started worker, once it has imported py-evm (so no block pays for that)."""
        ours, theirs = self._context.Pipe()
        process = self._context.Process(target=worker_main, args=(theirs,), daemon=True)
        process.start()
        theirs.close()
        try:
            ours.recv()
        except EOFError as error:
            process.join()
            raise WorkerStartFailed(process.pid, process.exitcode) from error
        return ours, process

    def replace(self, index: int) -> None:
        """Start a fresh worker in place of worker `index` (dead or broken)."""
        self.conns[index].close()
        self.procs[index].kill()
        self.procs[index].join()
        self.conns[index], self.procs[index] = self._spawn()

    def close(self) -> None:
        for conn in self.conns:
            with contextlib.suppress(OSError):  # a dead worker needs no stop
                conn.send(("stop",))
        for conn, process in zip(self.conns, self.procs, strict=True):
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join()
            conn.close()
        self.conns, self.procs = [], []


class ParallelExecutor(BlockExecutorAPI):
    """Block-STM on `workers` processes (default: the number of cores).

    `store_path` is the LMDB store the pre-states live in: workers open it themselves (the
    `PreState` interface carries only a database object, which cannot cross processes);
    without it every block runs sequentially. `counter_slots` (default: on our chain,
    `counters.sluice_counter_slots`) are slots transactions mostly add to or subtract from:
    such writes merge as deltas at commit instead of serializing transactions. Blocks of
    fewer than `min_parallel_txs` transactions run sequentially (replay sets 1, so every block
    with a transaction goes through the workers). `pool` shares workers started by the caller
    (replay runs thousands of short chains on one pool); `close` then leaves them running.
    """

    name = "parallel"

    def __init__(
        self,
        chain_id: int,
        forks: ForkSchedule = SLUICE_FORKS,
        workers: int | None = None,
        store_path: Path | None = None,
        counter_slots: Sequence[CounterSlot] | None = None,
        min_parallel_txs: int = MIN_PARALLEL_TXS,
        pool: "WorkerPool | None" = None,
    ) -> None:
        self.chain_id = chain_id
        self.forks = forks
        self.workers = workers or os.cpu_count() or 2
        self.store_path = store_path
        if counter_slots is None:
            counter_slots = sluice_counter_slots() if forks is SLUICE_FORKS else ()
        self.counter_slots = counter_keys(counter_slots)
        self.min_parallel_txs = min_parallel_txs
        self._sequential = SequentialExecutor(chain_id, forks)
        self._shared = pool is not None
        self._pool = pool
        self._stats = ExecutionStats()
        self._block_ids = itertools.count()

    @property
    def pool(self) -> WorkerPool:
        """The workers, started by the first block that needs them (again after `close`): a
        node that never executes a large block never pays for their start."""
        if self._pool is None:
            self._pool = WorkerPool(self.workers)
        return self._pool

    def start(self) -> None:
        if self.store_path is not None:
            self.pool  # noqa: B018 (starts the workers)

    def execute_block(
        self,
        pre_state: PreState,
        header: BlockHeaderAPI,
        txs: tuple[BlockTransaction, ...],
        extras: BlockExtras = NO_EXTRAS,
    ) -> BlockResult:
        vm_class = self.forks.vm_class_for(header)
        if not self.runs_in_parallel(vm_class, txs):
            block = self._sequential.execute_block(pre_state, header, txs, extras)
            self._stats = self._sequential.stats()
            return block
        assert self.store_path is not None
        env = dataclasses.replace(
            self._sequential.block_env(pre_state, header), counter_slots=self.counter_slots
        )
        spec = BlockSpec(next(self._block_ids), self.store_path, env)
        run = _BlockRun(self.pool, spec, pre_state, txs, extras, Progress(self.progress, len(txs)))
        with _collector_paused():
            block = run.execute()
        self._stats = ExecutionStats(
            reexecutions=run.reexecutions,
            speculated=run.speculated,
            time_split=run.clock.rounded(),
            conflicts=dict(run.conflicts),
        )
        return block

    def runs_in_parallel(
        self, vm_class: type[VirtualMachineAPI], txs: tuple[BlockTransaction, ...]
    ) -> bool:
        """Whether a block goes to the workers (else: the sequential executor)."""
        return (
            self.store_path is not None
            and len(txs) >= self.min_parallel_txs
            and issubclass(vm_class, ByzantiumVM)
        )

    def stats(self) -> ExecutionStats:
        return self._stats

    def close(self) -> None:
        """Stop the workers (a later parallel block starts new ones), unless they are shared."""
        if self._pool is not None and not self._shared:
            self._pool.close()
            self._pool = None


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while the coordinator runs a block: what it allocates
    then (unpickled speculations, results, receipts) is freed by reference counting, and a full
    pass over the node's heap cost the coordinator 40-70 ms of CPU per 2,000-transfer block
    (measured, about a fifth of its CPU). Re-enabled after, it collects what the block left."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _BlockRun:
    """One block through the pool: dispatch, validate and commit in order, block end, root."""

    def __init__(
        self,
        pool: WorkerPool,
        spec: BlockSpec,
        pre_state: PreState,
        txs: tuple[BlockTransaction, ...],
        extras: BlockExtras,
        progress: Progress,
    ) -> None:
        self.pool = pool
        self.progress = progress
        self.spec = spec
        self.txs = txs
        self.block = BlockState(spec.env, pre_state, extras)
        self.committed = self.block.committed
        self.runner = self.block.runner
        workers = len(pool.conns)
        self.changed: list[Key] = []  # the keys each commit changed, in commit order
        self.sent_upto = [0] * workers  # how much of `changed` each worker has been sent
        self.pending_codes: list[dict[bytes, bytes]] = [{} for _ in range(workers)]
        self.in_flight: list[list[tuple[int, int]]] = [[] for _ in range(workers)]
        self.batches = _batches(len(txs))
        self.next_batch = 0
        self.speculations: dict[int, Speculation] = {}
        self.outcomes: list[int] = []  # 1 per failed speculation, 0 per valid one
        self.speculating = True
        self.serial_run = 0  # transactions run here since speculation last stopped
        self.probe_after = _PROBE_AFTER // 2  # doubled when speculation stops
        self.lead = 0  # batches must start beyond committed_upto + lead
        self.committed_upto = -1  # the last transaction committed
        self.deaths = 0
        self.reexecutions = 0
        self.speculated = 0  # transactions executed in workers
        self.conflicts: Counter[Key] = Counter()  # first stale key of each failed validation
        self.while_trie_tasks: Callable[[], object] | None = None
        self.worker_serialization = [0.0] * workers  # seconds each spent pickling its replies
        self.clock = PhaseClock()

    def _spent(self, part: str, since: float) -> None:
        """Seconds within the execution phase, by part."""
        self.clock.add(part, time.perf_counter() - since)

    def execute(self) -> BlockResult:
        self._commit(self.block.begin())
        for index in range(len(self.pool.conns)):
            self._start_block(index)
        self.clock.lap("setup")
        results = self._transactions()
        self.clock.lap("execution")
        requests_hash = self.block.finish(self.txs, results)
        self.clock.lap("block_end")
        self.while_trie_tasks = lambda: self.block.list_roots(self.txs, results)
        state_root = self.block.state_root(self._run_trie_tasks)
        for conn in self.pool.conns:
            conn.send(("end",))  # let go of the snapshot: LMDB keeps pages a reader holds
        self.clock.lap("state_root")
        block = self.block.result(self.txs, results, state_root, requests_hash)
        self.clock.lap("list_roots")
        self.clock.add("workers_serialization", sum(self.worker_serialization))
        return block

    # workers
    def _start_block(self, index: int) -> None:
        """Send the block (with everything committed so far) to worker `index`; a worker that
        cannot take it is replaced once."""
        message = ("block", self.spec, dict(self.committed.data), dict(self.committed.codes))
        try:
            self._send(index, message)
        except OSError:
            self.pool.replace(index)
            self._send(index, message)
        self.sent_upto[index], self.pending_codes[index] = len(self.changed), {}

    def _worker_died(self, index: int) -> None:
        """Its batches will run in the coordinator; a fresh worker takes the next ones. Workers
        that keep dying (a store without this pre-state, a bug) fail the block instead."""
        self.deaths += 1
        if self.deaths > _MAX_DEATHS_PER_BLOCK:
            raise WorkersKeepDying(self.deaths)
        self.in_flight[index] = []
        self.pool.replace(index)
        self._start_block(index)

    def _dispatch(self, index: int) -> None:
        """Keep worker `index` busy: batches it has room for, with what was committed since."""
        # one batch per worker until the first outcomes tell a dependency chain from the rest
        depth = _DEPTH if len(self.outcomes) >= _WINDOW else 1
        while (
            self.speculating
            and len(self.in_flight[index]) < depth
            and self.next_batch < len(self.batches)
        ):
            start, end = self.batches[self.next_batch]
            if start <= self.committed_upto + self.lead:  # run here meanwhile: skip it
                self.next_batch += 1
                continue
            self.next_batch += 1
            batch = Batch(
                start,
                self.committed_upto,
                self._unsent(index),
                self.pending_codes[index],
                self.txs[start:end],
            )
            try:
                self._send(index, ("run", batch))
            except OSError:
                self.next_batch -= 1
                self._worker_died(index)
                continue
            self.sent_upto[index], self.pending_codes[index] = len(self.changed), {}
            self.in_flight[index].append((start, end))
            self.lead = 0  # only a probe's first batch keeps its distance

    def _unsent(self, index: int) -> dict[Key, Any]:
        """The committed values worker `index` has not been sent; a slot a later storage wipe
        removed is left out (the wipe is among them)."""
        data = self.committed.data
        updates = {}
        for key in self.changed[self.sent_upto[index] :]:
            value = data.get(key, _GONE)
            if value is not _GONE:
                updates[key] = value
        return updates

    def _dispatch_all(self) -> None:
        for index in range(len(self.pool.conns)):
            self._dispatch(index)

    def _send(self, index: int, message: tuple[Any, ...]) -> None:
        """Send to worker `index`: the pickling and the write count as transfer time."""
        started = time.perf_counter()
        self.pool.conns[index].send(message)
        self._spent("transfer", started)

    def _recv(self, index: int) -> Any:
        """The next message of worker `index`: waiting for it first, then reading and
        unpickling it (transfer time)."""
        started = time.perf_counter()
        wait([self.pool.conns[index]])
        received = time.perf_counter()
        self._spent("waiting_for_workers", started)
        message = self.pool.conns[index].recv()
        self._spent("transfer", received)
        return message

    def _awaited(self, position: int) -> bool:
        return any(s <= position < e for batches in self.in_flight for s, e in batches)

    def _receive(self) -> None:
        """Wait for any worker's batch; a worker that died is replaced."""
        conns = [self.pool.conns[i] for i, batches in enumerate(self.in_flight) if batches]
        started = time.perf_counter()
        ready = wait(conns)
        self._spent("waiting_for_workers", started)
        for conn in ready:
            index = self.pool.conns.index(conn)  # type: ignore[arg-type]
            try:
                reply = self._recv(index)
            except (EOFError, OSError):
                self._worker_died(index)
                continue
            _, block_id, start, speculations, ran, serialized = reply
            if block_id != self.spec.block_id:
                continue  # about an earlier block that failed
            self.clock.add("workers_execution", ran)
            self.worker_serialization[index] = serialized
            self.in_flight[index].remove((start, start + len(speculations)))
            for offset, speculation in enumerate(speculations):
                self.speculations[start + offset] = speculation
            self.speculated += len(speculations)
            self._dispatch(index)  # now, not after the next commit: it would wait idle

    # validation and commit, in block order
    def _transactions(self) -> list[TxResult]:
        results: list[TxResult] = []
        cumulative = 0
        self._dispatch_all()
        position = 0
        while position < len(self.txs):
            if not self.speculating and position not in self.speculations:
                position, cumulative = self._run_here(position, cumulative, results)
                continue
            speculation = self.speculations.pop(position, None)
            started = time.perf_counter()
            if speculation is None and self.speculating and self._awaited(position):
                self._receive()
                continue
            outcome = self._validated(speculation, self.txs[position].gas + cumulative)
            if outcome is None:
                started = time.perf_counter()
                result, access = self.runner.apply(self.txs[position], cumulative)
                self._commit(access.changes)
                self.reexecutions += speculation is not None
                self._spent("execution_in_coordinator", started)
                self._probe_later(1)
            else:
                result = outcome.result(cumulative + outcome.gas_used)
            cumulative += result.gas_used
            results.append(result)
            self.committed_upto = position
            self.progress(position + 1)
            self._dispatch_all()
            position += 1
        while any(self.in_flight):  # batches sent before speculation stopped: not needed now
            self._receive()
        return results

    def _run_here(self, position: int, cumulative: int, results: list[TxResult]) -> tuple[int, int]:
        """A dependency chain: run the transactions here one after another, as the sequential
        executor does, until the next probe (or a transaction a worker already ran); returns
        the next position and the gas used so far."""
        started, first = time.perf_counter(), position
        end = min(len(self.txs), position + max(self.probe_after - self.serial_run, 1))
        while position < end and position not in self.speculations:
            result, access = self.runner.apply(self.txs[position], cumulative)
            self._commit(access.changes)
            cumulative += result.gas_used
            results.append(result)
            position += 1
            self.progress(position)
        self.committed_upto = position - 1
        self._spent("execution_in_coordinator", started)
        self._probe_later(position - first)
        self._dispatch_all()
        return position, cumulative

    def _probe_later(self, ran: int) -> None:
        """After `probe_after` transactions run here, speculate again from a little ahead:
        a dependency chain may end (a hot spot at the start of a block)."""
        if self.speculating:
            return
        self.serial_run += ran
        if self.serial_run >= self.probe_after:
            self.speculating, self.serial_run, self.lead = True, 0, _PROBE_LEAD
            self.outcomes.clear()

    def _validated(self, speculation: Speculation | None, gas_needed: int) -> PortableResult | None:
        """The speculative result, committed, if it stands in block order; else None (the
        transaction is then re-executed, which also raises what makes it invalid)."""
        if speculation is None:
            return None
        outcome = speculation.outcome
        started = time.perf_counter()
        changes = self._check(speculation)
        self._spent("validation", started)
        if outcome is None or gas_needed > self.spec.env.header.gas_limit:
            changes = None
        self.outcomes.append(changes is None)
        if self.speculating and len(self.outcomes) >= _WINDOW:
            # most speculations fail: a dependency chain, run it here (and probe again later)
            self.speculating = sum(self.outcomes[-_WINDOW:]) * 4 <= 3 * _WINDOW
            if not self.speculating:
                self.probe_after *= 2
        if changes is None:
            return None
        started = time.perf_counter()
        self._commit(changes)
        self._spent("commit", started)
        return outcome

    def _check(self, speculation: Speculation) -> TxWrites | None:
        access = speculation.access
        data = self.committed.data
        for key in access.pre_reads:
            if key in data or (key[0] == SLOT and (WIPE, key[1]) in data):
                return self._conflict(key)
        get = self.committed.get
        for key, value in access.reads.items():
            if get(key) != value:
                return self._conflict(key)
        if not access.counter_reads:
            return access.changes
        changes = rebased(access, get)
        return changes if isinstance(changes, TxWrites) else self._conflict(changes)

    def _conflict(self, key: Key) -> None:
        """Count the state key whose committed value a speculation did not see."""
        self.conflicts[key] += 1

    def _commit(self, changes: TxWrites) -> None:
        self.changed += self.block.commit(changes)
        if changes.codes:
            for codes in self.pending_codes:
                codes.update(changes.codes)

    # state root
    def _run_trie_tasks(self, tasks: Sequence[TrieTask]) -> list[Ref | None]:
        """Tasks balanced over the workers by size; a worker that fails, they run here."""
        workers = len(self.pool.conns)
        loads = [0] * workers
        assigned: list[list[int]] = [[] for _ in range(workers)]
        for position in sorted(range(len(tasks)), key=lambda p: -len(tasks[p].items)):
            index = loads.index(min(loads))
            loads[index] += len(tasks[position].items)
            assigned[index].append(position)
        refs: list[Ref | None] = [None] * len(tasks)
        sent = []
        for index, positions in enumerate(assigned):
            if positions and self._send_trie(index, [tasks[p] for p in positions]):
                sent.append(index)
        # the coordinator's own work meanwhile, in a round worth it: the storage round of a
        # block that wrote few slots (the system calls' own) ends long before the list roots,
        # and its workers would idle until the account round
        worth_it = any(task.tag == ACCOUNT_TRIE or task.nibble is not None for task in tasks)
        if sent and worth_it and self.while_trie_tasks is not None:
            started = time.perf_counter()
            self.while_trie_tasks()
            self.while_trie_tasks = None
            self._spent("list_roots_during_state_root", started)
        for index in sent:
            try:
                worker_refs, writes = self._trie_reply(index)
            except (EOFError, OSError):
                self._worker_died(index)
                continue
            self.block.overlay.writes.update(writes)
            for position, ref in zip(assigned[index], worker_refs, strict=True):
                refs[position] = ref
            assigned[index] = []
        for positions in assigned:  # what a dead worker did not do
            for position in positions:
                refs[position] = run_task(self.block.overlay, self.committed.pre, tasks[position])
        return refs

    def _trie_reply(self, index: int) -> tuple[list[Ref | None], dict[bytes, bytes]]:
        """Worker `index`'s trie results, past what it still sends about an earlier block."""
        while True:
            reply = self._recv(index)
            if reply[0] == "trie" and reply[1] == self.spec.block_id:
                return reply[2], reply[3]

    def _send_trie(self, index: int, tasks: list[TrieTask]) -> bool:
        try:
            self._send(index, ("trie", tasks))
        except OSError:
            self._worker_died(index)
            return False
        return True


def _batches(count: int) -> list[tuple[int, int]]:
    """(start, end) of each batch: sizes ramp up through `_BATCH_SIZES`, then stay at the last,
    and the block's last `_TAIL` transactions go in the smallest (so the workers finish
    together)."""
    batches = []
    start = 0
    step = 0
    while start < count:
        size = _BATCH_SIZES[min(step, len(_BATCH_SIZES) - 1)]
        if count - start <= _TAIL:
            size = _BATCH_SIZES[0]
        batches.append((start, min(start + size, count)))
        start += size
        step += 1
    return batches
