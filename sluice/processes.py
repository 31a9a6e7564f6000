"""Child processes of `sluice devnet`: each with its own log, a readiness probe, a clean stop."""

import json
import logging
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sluice.errors import SluiceError

log = logging.getLogger(__name__)


class ProcessFailed(SluiceError):
    """A child process exited or never became ready; carries the end of its log."""

    def __init__(self, name: str, reason: str, log_path: Path) -> None:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-20:])
        super().__init__(f"{name} {reason}; last lines of {log_path}:\n{tail}")


class ManagedProcess:
    """One child process: `start` waits for `ready()`, `stop` sends SIGTERM then SIGKILL."""

    def __init__(self, name: str, command: Sequence[str], log_path: Path) -> None:
        self.name = name
        self.command = list(command)
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, ready: Callable[[], bool], timeout: float = 60.0) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                self.command, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while not ready():
            if not self.running:
                raise ProcessFailed(
                    self.name, f"exited with status {self.returncode}", self.log_path
                )
            if time.monotonic() > deadline:
                self.stop()
                raise ProcessFailed(self.name, f"not ready after {timeout}s", self.log_path)
            time.sleep(0.1)
        log.info("%s ready (pid %d, log %s)", self.name, self.process.pid, self.log_path)

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def stop(self, timeout: float = 30.0) -> None:
        if not self.running:
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %ss; killing it", self.name, timeout)
            self.process.kill()
            self.process.wait()
        log.info("%s stopped", self.name)


def sluice_command(*args: str) -> list[str]:
    """The `sluice` CLI as a child process, with this interpreter."""
    return [sys.executable, "-m", "sluice.cli", *args]


def json_rpc(url: str, method: str, *params: Any, timeout: float = 5.0) -> Any:
    """One blocking JSON-RPC 2.0 call; raises `OSError` when nothing answers."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        reply = json.loads(response.read())
    if "error" in reply:
        raise SluiceError(f"{method} at {url} failed: {reply['error'].get('message')}")
    return reply["result"]


def answers_json_rpc(url: str) -> Callable[[], bool]:
    """A readiness probe: the endpoint answers `eth_chainId`."""

    def probe() -> bool:
        try:
            json_rpc(url, "eth_chainId", timeout=1.0)
        except (OSError, urllib.error.URLError):
            return False
        return True

    return probe
