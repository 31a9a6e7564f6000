"""The daemon: loops step until stopped, a failing step is retried, reorgs reach other loops."""

import asyncio
import subprocess
import sys

import pytest

from relayer.daemon import CRASH_POINTS, Daemon, Faults, Loop
from sluice.errors import ConfigError, SluiceError


class Recorder:
    """A loop that fails its first `failures` steps, then counts its steps."""

    def __init__(self, name: str, failures: int = 0) -> None:
        self.name = name
        self.failures = failures
        self.steps = 0
        self.unwound: list[int] = []

    async def execute(self) -> bool:
        if self.failures:
            self.failures -= 1
            raise SluiceError("bitcoind did not answer")
        self.steps += 1
        return False

    async def unwind(self, height: int) -> None:
        self.unwound.append(height)

    def checkpoint(self) -> int | None:
        return self.steps


async def run_until(daemon: Daemon) -> None:
    task = asyncio.create_task(daemon.run())
    for _ in range(200):
        if all(loop.checkpoint() for loop in daemon.loops):
            break
        await asyncio.sleep(0.01)
    daemon.stop()
    await asyncio.wait_for(task, 5)


def test_a_recorder_is_a_loop() -> None:
    assert isinstance(Recorder("x"), Loop)


async def test_a_failing_step_is_retried_and_stop_ends_every_loop() -> None:
    flaky, steady = Recorder("flaky", failures=2), Recorder("steady")
    daemon = Daemon([flaky, steady], poll_interval=0.001)
    await run_until(daemon)
    assert flaky.failures == 0 and flaky.steps >= 1
    assert steady.steps >= 1


async def test_a_reorg_reaches_every_loop_but_its_source() -> None:
    source, other = Recorder("deposits"), Recorder("withdrawals")
    daemon = Daemon([source, other], poll_interval=0.01)
    await daemon.unwind_all(120, source="deposits")
    assert (source.unwound, other.unwound) == ([], [120])


def test_only_the_named_fault_point_exits_with_137() -> None:
    script = (
        "from relayer.daemon import Faults\n"
        "Faults('after_mint').reach('after_attest')\n"
        "Faults(None).reach('after_mint')\n"
        "print('still here', flush=True)\n"
        "Faults('after_mint').reach('after_mint')\n"
        "print('not reached')\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 137
    assert result.stdout == "still here\n"


def test_an_unknown_crash_point_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="after_relase_signed") as refused:
        Faults("after_relase_signed")
    assert all(point in str(refused.value) for point in CRASH_POINTS)


async def test_the_daemon_stops_when_its_stopping_event_is_set() -> None:
    stopping = asyncio.Event()
    loop = Recorder("steady")
    task = asyncio.create_task(Daemon([loop], 0.01, stopping).run())
    for _ in range(200):
        if loop.steps:
            break
        await asyncio.sleep(0.01)
    stopping.set()
    await asyncio.wait_for(task, 5)
    assert loop.steps >= 1
