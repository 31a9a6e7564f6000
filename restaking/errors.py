"""Errors of the restaking package.

SluiceError
└── RestakingError
    └── VaultRefused      the vault model refuses an operation the contract would revert
"""

from sluice.errors import SluiceError


class RestakingError(SluiceError):
    """A restaking operation is invalid or refused."""


class VaultRefused(RestakingError):
    """Carries the contract's revert reason, so the model and the contract can be compared."""

    def __init__(self, reason: str, value: object) -> None:
        super().__init__(f"{reason}: {value!r}")
        self.reason = reason
        self.value = value
