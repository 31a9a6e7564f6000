"""A real `sluice node run` process on a free port, over a dev data directory, and web3 on it."""

import json
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from regtest.util import free_port
from sluice.processes import ManagedProcess, answers_json_rpc, sluice_command

STARTUP_TIMEOUT = 60.0


def sluice(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        sluice_command(*args),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


class NodeProcess(ManagedProcess):
    """One `sluice node run` process: start, wait for JSON-RPC, stop (a signal) or kill (-9)."""

    def __init__(self, datadir: Path, block_interval: float | None = None) -> None:
        self.datadir = datadir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = sluice_command(
            "node", "run", "--datadir", str(datadir), "--rpc-port", str(self.port)
        )
        if block_interval is not None:
            command += ["--block-interval", str(block_interval)]
        super().__init__("node", command, datadir / "node.log")

    def start(self) -> None:  # type: ignore[override]
        super().start(answers_json_rpc(self.url), timeout=STARTUP_TIMEOUT)

    def post(self, body: bytes) -> tuple[int, Any]:
        """POST a raw body; returns the HTTP status and the decoded JSON (None if empty)."""
        request = urllib.request.Request(
            self.url, data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        return status, json.loads(raw) if raw else None

    def call(self, method: str, *params: Any) -> dict[str, Any]:
        """The whole JSON-RPC response object (result or error)."""
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        return self.post(json.dumps(body).encode())[1]

    def rpc(self, method: str, *params: Any) -> Any:
        response = self.call(method, *params)
        if "error" in response:
            raise AssertionError(f"{method} failed: {response['error']}")
        return response["result"]

    def stop(self, signum: int = signal.SIGTERM) -> int | None:  # type: ignore[override]
        """Ask the node to shut down cleanly (SIGTERM or SIGINT); returns its exit code."""
        return self.end(signum)


@pytest.fixture
def run_sluice():
    """The `sluice` command line in a subprocess, as a user runs it."""
    return sluice


def init_dev(datadir: Path) -> Path:
    result = sluice("node", "init", "--dev", "--datadir", str(datadir))
    assert result.returncode == 0, result.stderr
    return datadir


@pytest.fixture(scope="module")
def dev_datadir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return init_dev(tmp_path_factory.mktemp("node"))


@pytest.fixture
def node_process() -> Iterator[Callable[[Path], NodeProcess]]:
    """Starts nodes over given data directories; stops those still running at the end."""
    started: list[NodeProcess] = []

    def start(datadir: Path) -> NodeProcess:
        process = NodeProcess(datadir)
        process.start()
        started.append(process)
        return process

    yield start
    for process in started:
        if process.process is not None:
            process.stop()


@pytest.fixture
def fresh_node(tmp_path: Path, node_process: Callable[[Path], NodeProcess]) -> NodeProcess:
    """A node of its own, for tests that stop and restart it."""
    return node_process(init_dev(tmp_path / "node"))


@pytest.fixture(scope="module")
def node(dev_datadir: Path) -> Iterator[NodeProcess]:
    process = NodeProcess(dev_datadir)
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def w3(node: NodeProcess) -> Web3:
    return Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 30}))


def _accounts(path: Path) -> list[LocalAccount]:
    return [Account.from_key(entry["private_key"]) for entry in json.loads(path.read_text())]


@pytest.fixture(scope="module")
def accounts(dev_datadir: Path) -> list[LocalAccount]:
    return _accounts(dev_datadir / "dev-accounts.json")


@pytest.fixture(scope="module")
def federation(dev_datadir: Path) -> list[LocalAccount]:
    return _accounts(dev_datadir / "dev-federation.json")
