"""Errors about the compiled contract artifacts.

SluiceError
└── SidechainError
    └── ArtifactError
        ├── UnknownContract          no artifact by that name
        ├── UnknownMember            a contract has no function, event or variable by that name
        └── ArtifactMismatch         an artifact does not match what its sources compile to
"""

from sidechain.errors import SidechainError


class ArtifactError(SidechainError):
    """A compiled contract artifact is missing, unreadable or stale."""


class UnknownContract(ArtifactError):
    def __init__(self, name: str, known: tuple[str, ...]) -> None:
        super().__init__(f"unknown contract {name!r}: expected one of {', '.join(known)}")
        self.name = name
        self.known = known


class UnknownMember(ArtifactError):
    def __init__(self, contract: str, kind: str, name: str) -> None:
        super().__init__(f"contract {contract} has no {kind} {name!r}")
        self.contract = contract
        self.kind = kind
        self.name = name


class ArtifactMismatch(ArtifactError):
    def __init__(self, name: str, field: str) -> None:
        super().__init__(
            f"artifact {name}.json is stale: its {field} differs from what the sources compile"
            " to; run `python -m sidechain.contracts.build`"
        )
        self.name = name
        self.field = field
