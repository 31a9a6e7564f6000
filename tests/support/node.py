"""Sidechain nodes for tests: in-process (`open_node`), or a real `sluice node run` process
(`NodeProcess`: a free port, JSON-RPC, stop or kill)."""

import json
import signal
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from regtest.util import free_port, wait_until
from sidechain.node import Node
from sluice.processes import ManagedProcess, answers_json_rpc, json_rpc, sluice_command
from tests.support.cli import sluice

STARTUP_TIMEOUT = 60.0
RECEIPT_TIMEOUT = 30.0


def open_node(datadir: Path) -> Node:
    """An in-process node on the sequential executor: tests of the node, not of the executor
    (the default executor starts worker processes; tests/sidechain/test_node_parallel.py and
    the `sluice node run` tests run it)."""
    return Node.open(datadir, executor_name="sequential")


def init_dev(datadir: Path) -> Path:
    """`sluice node init --dev` into `datadir` (funded keys in dev-accounts.json)."""
    result = sluice("node", "init", "--dev", "--datadir", str(datadir))
    assert result.returncode == 0, result.stderr
    return datadir


class NodeProcess(ManagedProcess):
    """One `sluice node run` process: start, wait for JSON-RPC, stop (a signal) or kill (-9)."""

    def __init__(
        self, datadir: Path, block_interval: float | None = None, executor: str | None = None
    ) -> None:
        self.datadir = datadir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = sluice_command(
            "node", "run", "--datadir", str(datadir), "--rpc-port", str(self.port)
        )
        if block_interval is not None:
            command += ["--block-interval", str(block_interval)]
        if executor is not None:
            command += ["--executor", executor]
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
        """The whole JSON-RPC response object (result or error), for tests of errors."""
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        return self.post(json.dumps(body).encode())[1]

    def rpc(self, method: str, *params: Any) -> Any:
        """The result; an error answer raises (`sluice.processes.json_rpc`)."""
        return json_rpc(self.url, method, *params, timeout=30)

    def wait_for_receipt(self, tx_hash: str, timeout: float = RECEIPT_TIMEOUT) -> dict[str, Any]:
        """The receipt once the transaction is mined."""
        wait_until(lambda: self.rpc("eth_getTransactionReceipt", tx_hash) is not None, timeout)
        return self.rpc("eth_getTransactionReceipt", tx_hash)  # type: ignore[no-any-return]

    def stop(self, signum: int = signal.SIGTERM) -> int | None:  # type: ignore[override]
        """Ask the node to shut down cleanly (SIGTERM or SIGINT); returns its exit code."""
        return self.end(signum)
