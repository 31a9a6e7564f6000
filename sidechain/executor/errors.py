"""Errors of block replay and benchmarking, under the sidechain's `ExecutionError`.

SidechainError
├── ExecutionError
│   └── InvalidBlock           an imported block breaks a rule outside one transaction (its
│                              encoding, its header against its parent, its uncles, its blobs)
├── UnknownFork                no fork schedule for a network name, or a malformed schedule
├── FixtureError               a test fixture file cannot be read as BlockchainTests JSON
├── ExecutorUnavailable        no executor registered under that name (yet)
└── UnknownWorkload            no benchmark workload by that name
"""

from sidechain.errors import ExecutionError, SidechainError


class InvalidBlock(ExecutionError):
    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid block: {reason}")
        self.reason = reason


class UnknownFork(SidechainError):
    """A network name py-evm has no rules for, or a fork schedule that is not ascending."""


class FixtureError(SidechainError):
    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"cannot read fixture {path}: {reason}")
        self.path = path
        self.reason = reason


class ExecutorUnavailable(SidechainError):
    def __init__(self, name: str, known: tuple[str, ...]) -> None:
        super().__init__(f"executor {name!r} is not available (yet); available: {', '.join(known)}")
        self.name = name


class UnknownWorkload(SidechainError):
    def __init__(self, name: str, known: tuple[str, ...]) -> None:
        super().__init__(f"unknown workload {name!r}; known: {', '.join(known)}")
        self.name = name
