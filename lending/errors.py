"""Errors of the lending package.

SluiceError
└── LendingError
    ├── PoolRefused              the pool model refuses an operation the contract would revert
    ├── MalformedPriceReport     a price report field is out of range
    ├── PriceSourceError         a member's own price source gave nothing usable
    ├── PriceRefused             a member refuses to co-sign a proposed price (and says why)
    ├── CallRefused              the node says a contract call would revert (with the reason)
    └── AccountKeyError          an account key file or setting is unusable
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


class PriceSourceError(LendingError):
    """The file or command a member reads prices from failed or said something unusable."""


class PriceRefused(LendingError):
    """A proposed price this member will not sign; `reason` says which check failed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CallRefused(LendingError):
    """A contract call the node says would revert; `reason` is the contract's revert reason."""

    def __init__(self, what: str, reason: str) -> None:
        super().__init__(f"{what} refused: {reason}")
        self.what = what
        self.reason = reason


class AccountKeyError(LendingError):
    """An account key that cannot be used (never carries the key itself)."""
