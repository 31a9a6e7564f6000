"""Child processes of `sluice devnet`: each with its own log, a readiness probe, a clean stop."""

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
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
    """One child process: `start` waits for `ready()`, `stop` sends SIGTERM then SIGKILL.

    `env` adds variables to the inherited environment (how an operator sets SLUICE_*).
    """

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        log_path: Path,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.log_path = log_path
        self.env = dict(env or {})
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(
        self,
        ready: Callable[[], bool] | None = None,
        timeout: float = 60.0,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        """Spawn, then (given a probe) wait until it answers; a child that dies first fails."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        overrides = {**self.env, **(extra_env or {})}
        with self.log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                self.command,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, **overrides} if overrides else None,
            )
        if ready is None:
            return
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

    def wait_exit(self, timeout: float = 60.0) -> int:
        """Wait for the child to exit on its own; its exit status."""
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, then SIGKILL after `timeout`; the exit status (0 for a clean shutdown)."""
        return self.end(signal.SIGTERM, timeout)

    def kill(self) -> int | None:
        """SIGKILL, as a crash would; the exit status."""
        return self.end(signal.SIGKILL)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def end(self, signum: int, timeout: float = 30.0) -> int | None:
        """Send `signum`, wait up to `timeout` (then SIGKILL); the exit status."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %ss; killing it", self.name, timeout)
            self.process.kill()
            code = self.process.wait()
        self.process = None
        log.info("%s stopped (status %s)", self.name, code)
        return code


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


def answers_tcp(host: str, port: int) -> Callable[[], bool]:
    """A readiness probe: something accepts TCP connections on host:port."""

    def probe() -> bool:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return True
        except OSError:
            return False

    return probe
