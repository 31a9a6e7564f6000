"""The executor benchmark: one workload block executed by two executors in one run, compared.

Each executor runs in its own fresh (spawned) process on the same block: it opens the workload's
store at the same snapshot, builds its executor (workers included) untimed, then times
`execute_block` from the pre-state to the post-state root, relaying the executor's progress to
the parent's progress bar. Peak memory is what the block added: for the executor's process
and each worker it started, the peak resident set during the block (VmHWM, reset through
/proc/PID/clear_refs just before `execute_block`) minus the resident set just before, summed;
the workers' resident set before the block (their imported code) is reported apart. Both runs
must give the same state root, receipts and gas.
"""

import contextlib
import multiprocessing
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import rlp
from eth.vm.forks.prague.blocks import PragueBlockHeader
from eth_typing import Hash32

from sidechain.chaindata import decode_transaction
from sidechain.executor.abc import PreState, ProgressHook
from sidechain.executor.mvstate import describe
from sidechain.executor.registry import make_executor
from sidechain.executor.sequential import build_state
from sidechain.executor.workloads import WorkloadBlock, workload_block
from sidechain.store import Store

_KB_PER_MB = 1024
PYEVM_BASELINE = "pyevm-loop"  # not an executor: py-evm's apply_transaction loop, for reference


@dataclass(frozen=True)
class _Job:
    """What crosses into the executor's process: the block, encoded, and where its state is."""

    executor: str
    options: dict[str, Any]
    chain_id: int
    store_path: Path
    state_root: Hash32
    ancestor_hashes: tuple[Hash32, ...]
    header: bytes
    txs: tuple[bytes, ...]


@dataclass(frozen=True)
class RunResult:
    """One executor's run: its time, memory, and what the block's header would commit to."""

    executor: str
    seconds: float
    peak_mb: float
    reexecutions: int
    time_split: dict[str, float]
    speculated: int
    workers_rss_mb: float
    conflicts: dict[str, int]
    state_root: Hash32
    receipts_root: Hash32
    gas_used: int
    bloom: int
    statuses: tuple[bytes, ...]

    def same_outcome(self, other: "RunResult") -> bool:
        """Same state root, receipts (their root commits to status, gas and logs) and gas."""
        return (self.state_root, self.receipts_root, self.gas_used, self.bloom) == (
            other.state_root,
            other.receipts_root,
            other.gas_used,
            other.bloom,
        )


@dataclass(frozen=True)
class BenchReport:
    workload: str
    txs: int
    seq: RunResult
    par: RunResult
    baseline: RunResult | None = None
    repeat: int = 1

    def figures(self) -> dict[str, Any]:
        """The `--json` object: exactly the benchmark's nine keys."""
        return {
            "seq_s": round(self.seq.seconds, 4),
            "par_s": round(self.par.seconds, 4),
            "speedup": round(self.seq.seconds / self.par.seconds, 3),
            "seq_tps": round(self.txs / self.seq.seconds, 1),
            "par_tps": round(self.txs / self.par.seconds, 1),
            "reexecutions": self.par.reexecutions,
            "seq_peak_mb": round(self.seq.peak_mb, 1),
            "par_peak_mb": round(self.par.peak_mb, 1),
            "roots_equal": self.seq.same_outcome(self.par),
        }

    def lines(self) -> list[str]:
        """The human-readable report: what ran, the figures, and each run's time split."""
        lines = [
            f"workload: {self.workload}",
            f"txs: {self.txs}",
            f"executors: {self.seq.executor} vs {self.par.executor}"
            + (f" (fastest of {self.repeat} runs each)" if self.repeat > 1 else ""),
            *(f"{key}: {value}" for key, value in self.figures().items()),
        ]
        for label, run in (("seq", self.seq), ("par", self.par), ("pyevm_loop", self.baseline)):
            if run is not None:
                lines.append(f"{label}_split_s: {_split_text(run.time_split)}")
        if self.par.speculated:
            lines.append(f"par_speculated_in_workers: {self.par.speculated}")
        for key, count in sorted(self.par.conflicts.items(), key=lambda item: -item[1])[:10]:
            lines.append(f"par_conflict: {count} x {key}")
        if self.par.workers_rss_mb:
            lines.append(f"par_workers_rss_before_mb: {round(self.par.workers_rss_mb, 1)}")
        if self.baseline is not None:
            lines += [
                f"pyevm_loop_s: {round(self.baseline.seconds, 4)}",
                f"pyevm_loop_peak_mb: {round(self.baseline.peak_mb, 1)}",
                f"seq_vs_pyevm_loop: {round(self.baseline.seconds / self.seq.seconds, 3)}",
            ]
        return lines


def _split_text(split: dict[str, float]) -> str:
    return ", ".join(f"{phase} {seconds:.3f}" for phase, seconds in split.items())


class ProgressBar:
    """A one-line progress bar on stderr: `[#####.....] 50% label 1000/2000`."""

    WIDTH = 30

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self._shown = -1

    def phase(self, message: str) -> None:
        self._end_line()
        print(f"[bench] {message}", file=self.stream, flush=True)

    def update(self, done: int, total: int, label: str) -> None:
        percent = 100 * done // max(total, 1)
        if percent == self._shown:
            return
        self._shown = percent
        filled = self.WIDTH * done // max(total, 1)
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self.stream.write(f"\r[{bar}] {percent:3d}% {label} {done}/{total}")
        self.stream.flush()

    def _end_line(self) -> None:
        if self._shown >= 0:
            self.stream.write("\n")
            self._shown = -1


def run_bench(
    workload: str,
    count: int,
    executors: tuple[str, str],
    options: dict[str, Any],
    progress: ProgressBar | None = None,
    baseline: bool = False,
    repeat: int = 1,
) -> BenchReport:
    """Build the `workload` block of `count` transactions and run it with both executors
    (`options` such as `workers` go to the executors that take them, with the workload's
    `store_path` for executors whose workers open the store themselves); `baseline` also
    times py-evm's own transaction loop on it (blocks of user transactions only). With
    `repeat` > 1 the executors run in turn that many times on the same block and each one's
    fastest run is reported (on a shared machine, the run least disturbed by others)."""
    bar = progress or ProgressBar(open(os.devnull, "w"))  # noqa: SIM115
    with workload_block(
        workload, count, lambda done, total: bar.update(done, total, f"building {workload}")
    ) as block:
        names = (*executors, PYEVM_BASELINE) if baseline else executors
        runs: list[list[RunResult]] = [[] for _ in names]
        for turn in range(repeat):
            for name, done in zip(names, runs, strict=True):
                bar.phase(f"run {turn + 1}/{repeat}: {count} {workload} transactions, {name}")
                job_options = {**options, "store_path": block.store_path}
                done.append(
                    _run_in_child(
                        _job(block, name, job_options),
                        lambda done, total, name=name: bar.update(done, total, name),
                    )
                )
    bar.phase("done")
    best = [min(done, key=lambda run: run.seconds) for done in runs]
    return BenchReport(
        workload, count, best[0], best[1], best[2] if baseline else None, repeat=repeat
    )


def _job(block: WorkloadBlock, name: str, options: dict[str, Any]) -> _Job:
    return _Job(
        executor=name,
        options=options,
        chain_id=block.chain_id,
        store_path=block.store_path,
        state_root=block.pre_state.state_root,
        ancestor_hashes=block.pre_state.ancestor_hashes,
        header=rlp.encode(block.header),
        txs=tuple(tx.encode() for tx in block.txs),
    )


def _run_in_child(job: _Job, progress: ProgressHook) -> RunResult:
    """Run `job` in a spawned process; its progress messages go to `progress`."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(job, sender), name=f"bench-{job.executor}")
    process.start()
    sender.close()
    try:
        outcome = receiver.recv()
        while isinstance(outcome, _Progress):
            progress(outcome.done, outcome.total)
            outcome = receiver.recv()
    except EOFError as error:
        raise RuntimeError(f"the {job.executor} run died (exit {process.exitcode})") from error
    finally:
        process.join()
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome  # type: ignore[no-any-return]


@dataclass(frozen=True)
class _Progress:
    done: int
    total: int


def _child(job: _Job, sender: Any) -> None:
    try:
        sender.send(execute_job(job, lambda done, total: sender.send(_Progress(done, total))))
    except BaseException as error:  # reported to the parent, which re-raises it
        sender.send(error)
    finally:
        sender.close()


def execute_job(job: _Job, progress: ProgressHook | None = None) -> RunResult:
    """Run one job in this process (the child's body)."""
    if job.executor == PYEVM_BASELINE:
        return _pyevm_baseline(job)
    header = rlp.decode(job.header, sedes=PragueBlockHeader)
    txs = tuple(decode_transaction(encoded) for encoded in job.txs)
    executor = make_executor(job.executor, job.chain_id, **job.options)
    executor.progress = progress
    executor.start()
    store = Store(job.store_path)
    try:
        with store.reading() as snapshot:
            pre = PreState(snapshot.state_db(), job.state_root, job.ancestor_hashes)
            memory = _BlockMemory()
            start = time.perf_counter()
            result = executor.execute_block(pre, header, txs)
            seconds = time.perf_counter() - start
            peak_kb = memory.peak_growth_kb()
        stats = executor.stats()
    finally:
        executor.close()
        store.close()
    return RunResult(
        executor=job.executor,
        seconds=seconds,
        peak_mb=peak_kb / _KB_PER_MB,
        reexecutions=stats.reexecutions,
        time_split=dict(stats.time_split),
        speculated=stats.speculated,
        workers_rss_mb=memory.workers_rss_kb / _KB_PER_MB,
        conflicts={describe(key): count for key, count in stats.conflicts.items()},
        state_root=result.state_root,
        receipts_root=result.receipts_root,
        gas_used=result.gas_used,
        bloom=result.bloom,
        statuses=tuple(r.receipt.state_root for r in result.results),
    )


def _pyevm_baseline(job: _Job) -> RunResult:
    """py-evm's own loop on the same block: `state.apply_transaction` per transaction, then
    one `state.make_state_root()` (no receipts, no fee credit): the speed to match."""
    header = rlp.decode(job.header, sedes=PragueBlockHeader)
    txs = tuple(decode_transaction(encoded) for encoded in job.txs)
    store = Store(job.store_path)
    try:
        with store.reading() as snapshot:
            pre = PreState(snapshot.state_db(), job.state_root, job.ancestor_hashes)
            state, _ = build_state(pre, header, job.chain_id)
            memory = _BlockMemory()
            start = time.perf_counter()
            gas = 0
            for tx in txs:
                state.lock_changes()  # as py-evm's VM.apply_transaction does
                gas += tx.gas - state.apply_transaction(tx).get_gas_remaining()
            executed = time.perf_counter()
            root = state.make_state_root()
            seconds = time.perf_counter() - start
            peak_kb = memory.peak_growth_kb()
    finally:
        store.close()
    return RunResult(
        executor=PYEVM_BASELINE,
        seconds=seconds,
        peak_mb=peak_kb / _KB_PER_MB,
        reexecutions=0,
        speculated=0,
        workers_rss_mb=0.0,
        conflicts={},
        time_split={
            "execution": round(executed - start, 4),
            "state_root": round(seconds - (executed - start), 4),
        },
        state_root=root,
        receipts_root=Hash32(b""),
        gas_used=gas,
        bloom=0,
        statuses=(),
    )


def _status_kb(field: str, pid: str = "self") -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except FileNotFoundError:
        return 0
    return 0


class _BlockMemory:
    """Per-process peak resident set growth over one block, for this process and every
    process it started (the parallel executor's workers, already running)."""

    def __init__(self) -> None:
        self.pids = [str(os.getpid()), *_descendants(str(os.getpid()))]
        self.rss_before = {pid: _status_kb("VmRSS", pid) for pid in self.pids}
        self.workers_rss_kb = sum(self.rss_before[pid] for pid in self.pids[1:])
        for pid in self.pids:
            _reset_peak(pid)

    def peak_growth_kb(self) -> int:
        """The sum over the processes of their peak during the block minus their size before."""
        return sum(max(_status_kb("VmHWM", pid) - self.rss_before[pid], 0) for pid in self.pids)


def _reset_peak(pid: str) -> None:
    """Set the process's VmHWM to its current resident set (Linux: clear_refs 5)."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def _descendants(pid: str) -> list[str]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            found.extend([child, *_descendants(child)])
    return found
