"""Errors of the restaking package.

SluiceError
└── RestakingError
    ├── VaultRefused          the vault model refuses an operation the contract would revert
    ├── MalformedCommitment   a state commitment's height or root is out of range
    └── MalformedEvidence     challenge evidence that does not decode, or names another claim
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


class MalformedCommitment(RestakingError):
    """A commitment the Bridge could never record (names the field and value)."""


class MalformedEvidence(RestakingError):
    """Evidence bytes that are not one of the evidence formats (says what is wrong)."""
