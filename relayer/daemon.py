"""The relayer daemon: runs its loops (stages) until SIGINT/SIGTERM, each resuming from the ledger.

A loop is a stage in reth's sense (`Loop`): `execute()` does one bounded step and returns True
while more work is waiting; `unwind(height)` rolls the loop back to Bitcoin height `height`
after a reorg; `checkpoint()` reads where it stands from its ledger cursor. Each loop keeps its
progress in the ledger only, committing each step, so a process killed with SIGKILL at any
point resumes from the last commit when started again.

The daemon drives every loop in a task of its own: a step that raises a `SluiceError` (bitcoind
or the node down, a refused call) is logged and retried after a back-off; anything else is
logged with its traceback and retried too, so one bad step never stops the member. It stops
when its `stopping` event is set (`relayer.runner` sets it on SIGINT/SIGTERM).
`Faults.reach(point)` is the test-only crash hook (`relayer.crash_at`, one of `CRASH_POINTS`).
`stop_on_signals` is the one place a daemon process installs its SIGINT/SIGTERM handlers.
"""

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from typing import Protocol, runtime_checkable

from sluice.errors import ConfigError, SluiceError

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 10.0
STOP_GRACE_S = 5.0  # how long a stop waits for the steps under way
CRASH_EXIT_CODE = 137
# Every step boundary a test may crash a member at, in flow order (see each loop's docstring).
CRASH_POINTS = (
    # deposits (relayer.deposits)
    "after_scan",
    "after_mint",
    "after_attest",
    "after_submit",
    # withdrawals (relayer.withdrawals)
    "after_withdrawals_recorded",
    "after_refund_sent",
    # releases (relayer.release)
    "after_release_signed",
    "after_release_broadcast",
    "after_release_told",
    # state commitments (relayer.commitments, tracked by relayer.release)
    "after_commitment_signed",
    "after_commitment_broadcast",
    "after_commitment_confirmed",
    "after_commitment_recorded",
    # the watcher's challenges (relayer.watcher)
    "after_challenge_signed",
    "after_challenge_sent",
)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@runtime_checkable
class Loop(Protocol):
    """One relayer stage. Register its factory in `relayer.loops.LOOP_FACTORIES`."""

    name: str

    async def execute(self) -> bool:
        """One step (commit its effects before returning); True while more is waiting now."""
        ...

    async def unwind(self, height: int) -> None:
        """Forget what this loop derived from Bitcoin blocks above `height` (a reorg)."""
        ...

    def checkpoint(self) -> int | None:
        """Where the loop stands (its ledger cursor), None before its first step."""
        ...


class Faults:
    """Test-only crash points: `reach(name)` exits the process with 137 when name == crash_at,
    as a SIGKILL at that step boundary would; `crash_at` must name one of `CRASH_POINTS`."""

    def __init__(self, crash_at: str | None) -> None:
        if crash_at is not None and crash_at not in CRASH_POINTS:
            raise ConfigError(
                f"relayer.crash_at must be one of {', '.join(CRASH_POINTS)}, got {crash_at!r}"
            )
        self.crash_at = crash_at

    def reach(self, point: str) -> None:
        if point != self.crash_at:
            return
        log.critical(
            "crash_at=%s: exiting with %d as asked (fault injection)", point, CRASH_EXIT_CODE
        )
        for handler in logging.getLogger().handlers:
            handler.flush()
        sys.stderr.flush()
        os._exit(CRASH_EXIT_CODE)


class Daemon:
    """Runs `loops` side by side until `stop()` (or `stopping` is set); `unwind_all` passes a
    Bitcoin reorg on."""

    def __init__(
        self, loops: Sequence[Loop], poll_interval: float, stopping: asyncio.Event | None = None
    ) -> None:
        self.loops = list(loops)
        self._poll = poll_interval
        self._stopping = stopping or asyncio.Event()

    def stop(self) -> None:
        if not self._stopping.is_set():
            log.info("relayer: stopping")
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def unwind_all(self, height: int, source: str) -> None:
        """Tell every loop but `source` that Bitcoin blocks above `height` are gone."""
        for loop in self.loops:
            if loop.name != source:
                await loop.unwind(height)

    async def run(self) -> None:
        """Until stopped: every loop steps in its own task."""
        for loop in self.loops:
            log.info("relayer: loop %s starts at checkpoint %s", loop.name, loop.checkpoint())
        tasks = [asyncio.create_task(self._drive(loop), name=loop.name) for loop in self.loops]
        await self._stopping.wait()
        _, busy = await asyncio.wait(tasks, timeout=STOP_GRACE_S)
        for task in busy:  # a step cut short is one a kill -9 could cut short too
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        log.info("relayer: stopped cleanly")

    async def _drive(self, loop: Loop) -> None:
        failures = 0
        while not self.stopping:
            try:
                more = await loop.execute()
                failures = 0
            except SluiceError as error:
                failures += 1
                log.warning("%s: step failed (%s); retrying", loop.name, error)
                more = False
            except Exception:
                failures += 1
                log.exception("%s: step failed unexpectedly; retrying", loop.name)
                more = False
            if not more:
                await self._pause(min(MAX_BACKOFF_S, self._poll * 2**failures))

    async def _pause(self, seconds: float) -> None:
        await wait_or_stop(self._stopping, seconds)


async def wait_or_stop(stopping: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, or less if `stopping` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), seconds)


@contextlib.asynccontextmanager
async def stop_on_signals() -> AsyncIterator[asyncio.Event]:
    """An event set by SIGINT or SIGTERM, which a daemon's loops stop on."""
    stopping = asyncio.Event()
    running = asyncio.get_running_loop()
    for signum in STOP_SIGNALS:
        running.add_signal_handler(signum, stopping.set)
    try:
        yield stopping
    finally:
        for signum in STOP_SIGNALS:
            running.remove_signal_handler(signum)
