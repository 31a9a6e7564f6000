"""Errors of the lending package.

SluiceError
└── LendingError
    ├── PoolRefused              the pool model refuses an operation the contract would revert
    └── MalformedPriceReport     a price report field is out of range
"""

from sluice.errors import SluiceError


class LendingError(SluiceError):
    """A lending operation or price report is invalid or refused."""


class PoolRefused(LendingError):
    """Carries the contract's revert reason, so the model and the contract can be compared."""

    def __init__(self, reason: str, value: object) -> None:
        super().__init__(f"{reason}: {value!r}")
        self.reason = reason
        self.value = value


class MalformedPriceReport(LendingError):
    """A price report the oracle contract could never accept (names the field and value)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
