"""Errors of the relayer daemon, its keys, its node client and the deposit flow.

RelayerError
├── KeysError                  a keys file is missing, unreadable, too open or malformed
│   └── KeysFileTooOpen        the keys file is readable by others (mode wider than 0600)
├── NodeError                  the sidechain node could not be used
│   ├── NodeUnavailable        no answer: connection refused, timeout, HTTP error, not JSON
│   ├── NodeRpcError           a JSON-RPC error object (code, message, data)
│   │   ├── NodeCallReverted   eth_call / estimate reverted (code 3, revert data)
│   │   └── AttestationRefused sluice_submitAttestation refused (not a member, already minted)
│   ├── ReceiptTimeout         a sent transaction was not mined in time
│   └── CallWouldRevert        eth_estimateGas says a call reverts: the contract's reason
├── DepositsPaused             the deposit flow is paused (a reorg deeper than the depth)
├── FederationSetupError       `sluice federation init` cannot write what it was asked to
└── WatcherError               the watcher cannot go on (its state, its genesis, its chain)
    └── CourtRefused           the court refuses a call (eth_estimateGas reverts): its reason
"""

from typing import Any

from sluice.errors import SluiceError


class RelayerError(SluiceError):
    """Base of the relayer's errors."""


class KeysError(RelayerError):
    """A member's keys cannot be loaded."""


class KeysFileTooOpen(KeysError):
    def __init__(self, path: str, mode: int) -> None:
        super().__init__(
            f"keys file {path} has mode {mode:04o}; it must be readable by its owner only "
            f"(chmod 600 {path})"
        )
        self.path = path
        self.mode = mode


class NodeError(RelayerError):
    """The sidechain node could not be used."""


class NodeUnavailable(NodeError):
    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"sidechain node {url} did not answer: {reason}")
        self.url = url
        self.reason = reason


class NodeRpcError(NodeError):
    def __init__(self, method: str, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{method} failed: {message} (code {code})")
        self.method = method
        self.code = code
        self.message = message
        self.data = data


class NodeCallReverted(NodeRpcError):
    """An eth_call reverted; `data` is the revert data (hex) when the node gave it."""


class CallWouldRevert(NodeError):
    """eth_estimateGas says the call reverts; `reason` is the contract's."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the call would revert: {reason}")
        self.reason = reason


class AttestationRefused(NodeRpcError):
    """The node refused an attestation; `already_minted` tells the one refusal that is success."""

    @property
    def already_minted(self) -> bool:
        return "already minted" in self.message


class ReceiptTimeout(NodeError):
    def __init__(self, tx_hash: str, seconds: float) -> None:
        super().__init__(f"transaction {tx_hash} was not mined within {seconds:g} s")
        self.tx_hash = tx_hash
        self.seconds = seconds


class DepositsPaused(RelayerError):
    def __init__(self, reason: str) -> None:
        super().__init__(f"deposits are paused: {reason}")
        self.reason = reason


class FederationSetupError(RelayerError):
    """`sluice federation init` was given arguments it cannot honour."""


class WatcherError(RelayerError):
    """The watcher cannot go on: its state file, its genesis or the chain it follows."""


class CourtRefused(WatcherError):
    def __init__(self, action: str, reason: str) -> None:
        super().__init__(f"the court refuses to {action}: {reason}")
        self.action = action
        self.reason = reason
