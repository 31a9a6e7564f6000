"""Errors of the withdrawal side of the relayer: releases, vault, signing rounds, commitments.

RelayerError (relayer.errors)
└── ReleaseFlowError
    ├── ReleaseRefused          a member will not sign a proposal: names the rule and the value
    ├── InsufficientVaultFunds  the vault's spendable coins cannot pay the outputs plus the fee
    ├── PaymentBelowDust        a withdrawal amount a Bitcoin output could not carry
    ├── PeerRequestFailed       a signing peer did not answer, or answered with an error
    ├── BadPeerMessage          an unsigned, unknown-sender, stale or oversized message
    ├── QuorumNotReached        fewer than m members signed (each refusal's reason kept)
    └── BridgeCallFailed        a Bridge transaction reverted or was never mined
"""

from relayer.errors import RelayerError


class ReleaseFlowError(RelayerError):
    """Base of the withdrawal, release, signing and commitment errors."""


class ReleaseRefused(ReleaseFlowError):
    """A member checked a proposal against its own ledger and bitcoind and refuses to sign."""

    def __init__(self, subject: str, reason: str) -> None:
        self.subject = subject
        self.reason = reason
        super().__init__(f"refusing to sign {subject}: {reason}")


class InsufficientVaultFunds(ReleaseFlowError):
    def __init__(self, available: int, needed: int) -> None:
        self.available = available
        self.needed = needed
        super().__init__(f"vault holds {available} spendable sats, the release needs {needed}")


class PaymentBelowDust(ReleaseFlowError):
    def __init__(self, withdrawal_id: str, amount: int, minimum: int) -> None:
        self.withdrawal_id = withdrawal_id
        self.amount = amount
        self.minimum = minimum
        super().__init__(
            f"withdrawal {withdrawal_id} pays {amount} sats, below the minimum output of {minimum}"
        )


class PeerRequestFailed(ReleaseFlowError):
    def __init__(self, peer: str, reason: str) -> None:
        self.peer = peer
        self.reason = reason
        super().__init__(f"signing peer {peer}: {reason}")


class BadPeerMessage(ReleaseFlowError):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"refused peer message: {reason}")


class QuorumNotReached(ReleaseFlowError):
    def __init__(self, kind: str, got: int, threshold: int, failures: list[str]) -> None:
        self.kind = kind
        self.got = got
        self.threshold = threshold
        self.failures = failures
        super().__init__(f"{kind}: {got} of {threshold} signatures; peers said: {failures}")


class BridgeCallFailed(ReleaseFlowError):
    def __init__(self, tx_hash: str, reason: str) -> None:
        self.tx_hash = tx_hash
        self.reason = reason
        super().__init__(f"Bridge transaction {tx_hash}: {reason}")
