"""Errors of the regtest harness: installing, starting and waiting for bitcoind."""

from pathlib import Path

from sluice.errors import SluiceError


class RegtestError(SluiceError):
    """Base of the harness's errors."""


class BitcoindNotInstalled(RegtestError):
    """The installer script failed; carries its exit status and last output lines."""

    def __init__(self, status: int, output: str) -> None:
        self.status = status
        self.output = output
        super().__init__(f"installing bitcoind failed (exit status {status}):\n{output}")


class FailedToStart(RegtestError):
    """bitcoind exited or never answered; carries its exit status and the end of its log."""

    def __init__(self, node_name: str, reason: str, log_tail: str) -> None:
        self.reason = reason
        self.log_tail = log_tail
        super().__init__(f"[{node_name}] bitcoind failed to start: {reason}\n{log_tail}")


class WaitTimeout(RegtestError):
    """A `wait_until` predicate stayed false; the message shows the predicate's source."""

    def __init__(self, predicate_source: str, timeout: float) -> None:
        self.predicate_source = predicate_source
        super().__init__(f"still false after {timeout}s: {predicate_source}")


class BinaryNotFound(RegtestError):
    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(f"{path} not found: run `sluice bitcoind install` first")
