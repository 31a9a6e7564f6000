"""JSON-RPC errors: each carries the code, message and data a client receives.

RpcError (code, message, data)
├── ParseError            -32700  the body is not JSON
├── InvalidRequest        -32600  not a JSON-RPC 2.0 request (or a batch / body over a limit)
├── MethodNotFound        -32601  no such method
├── InvalidParams         -32602  a parameter is missing, extra or malformed
├── InternalError         -32603  a bug on our side (details stay in the node's log)
├── ServerError           -32000  the node refused: unknown block, filter not found, tx rejected
├── LimitExceeded         -32005  a query asks for more than the node serves at once
└── CallReverted               3  eth_call / eth_estimateGas reverted; data = revert data (geth)

CannotListen: the server cannot bind its address (not a JSON-RPC answer: the CLI reports it).
"""

from typing import Any

from sidechain import errors as node_errors
from sluice.errors import SluiceError


class RpcError(SluiceError):
    """An error answered to the client as a JSON-RPC error object."""

    code: int = -32603

    def __init__(self, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            body["data"] = self.data
        return body


class ParseError(RpcError):
    code = -32700


class InvalidRequest(RpcError):
    code = -32600


class MethodNotFound(RpcError):
    code = -32601

    def __init__(self, method: str) -> None:
        super().__init__(f"the method {method} does not exist/is not available")
        self.method = method


class InvalidParams(RpcError):
    code = -32602


class InternalError(RpcError):
    code = -32603


class ServerError(RpcError):
    code = -32000


class LimitExceeded(RpcError):
    code = -32005


class CallReverted(RpcError):
    """A reverted call, shaped like geth's so web3.py raises ContractLogicError with the reason."""

    code = 3

    def __init__(self, reason: str | None, revert_data: bytes) -> None:
        message = "execution reverted" if reason is None else f"execution reverted: {reason}"
        super().__init__(message, "0x" + revert_data.hex())
        self.reason = reason
        self.revert_data = revert_data


class CannotListen(SluiceError):
    def __init__(self, host: str, port: int, reason: str) -> None:
        super().__init__(f"cannot serve JSON-RPC on {host}:{port}: {reason}")
        self.host = host
        self.port = port


def from_node_error(error: node_errors.SidechainError) -> RpcError:
    """The JSON-RPC error for a node error: the one place where node errors get their codes."""
    if isinstance(error, node_errors.ExecutionReverted):
        if not error.data:
            return ServerError("execution reverted")  # geth: no revert data, no code 3
        return CallReverted(error.reason, error.data)
    if isinstance(error, node_errors.MalformedAttestation):
        return InvalidParams(str(error))
    if isinstance(error, node_errors.UnknownBlock):
        return ServerError("header not found")
    return ServerError(str(error))
