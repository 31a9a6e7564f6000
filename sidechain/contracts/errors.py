"""Errors about the compiled contract artifacts.

SluiceError
└── SidechainError
    └── ArtifactError
        ├── UnknownContract      no artifact by that name
        └── ArtifactMismatch     an artifact does not match what its sources compile to
"""

from sidechain.errors import SidechainError


class ArtifactError(SidechainError):
    """A compiled contract artifact is missing, unreadable or stale."""


class UnknownContract(ArtifactError):
    def __init__(self, name: str, known: tuple[str, ...]) -> None:
        super().__init__(f"unknown contract {name!r}: expected one of {', '.join(known)}")
        self.name = name
        self.known = known


class ArtifactMismatch(ArtifactError):
    def __init__(self, name: str, field: str) -> None:
        super().__init__(
            f"artifact {name}.json is stale: its {field} differs from what the sources compile"
            " to; run `python -m sidechain.contracts.build`"
        )
        self.name = name
        self.field = field
