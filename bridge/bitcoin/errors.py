"""Errors from talking to bitcoind.

SluiceError
└── BitcoinError
    ├── BitcoinRPCError          bitcoind answered with an error (carries .code, .message)
    │   └── BitcoinWarmingUp     code -28: the node is still loading
    └── BitcoinConnectionError   no usable answer: refused, timed out, bad credentials
        ├── BitcoinAuthError     HTTP 401: wrong user, password or cookie
        ├── BitcoinTimeout       no answer within the timeout
        ├── BitcoinRequestLost   the connection dropped after a call that must not be repeated
        │                        was sent: it may have run (carries .method)
        └── BitcoinBadReply      the reply is not JSON-RPC or does not match the request
"""

from sluice.errors import SluiceError

RPC_IN_WARMUP = -28


class BitcoinError(SluiceError):
    """Base of every error about bitcoind."""


class BitcoinRPCError(BitcoinError):
    """bitcoind ran the call and refused it; `code` is bitcoind's RPC error code."""

    def __init__(self, code: int, message: str, method: str = "") -> None:
        self.code = code
        self.message = message
        self.method = method
        where = f" in {method}" if method else ""
        super().__init__(f"bitcoind error {code}{where}: {message}")


class BitcoinWarmingUp(BitcoinRPCError):
    """bitcoind is up but still loading (code -28); the call may succeed if retried."""


class BitcoinConnectionError(BitcoinError):
    """The call got no usable answer from bitcoind at `url`."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"cannot reach bitcoind at {url}: {reason}")


class BitcoinAuthError(BitcoinConnectionError):
    """bitcoind refused the credentials (HTTP 401)."""


class BitcoinTimeout(BitcoinConnectionError):
    """bitcoind did not answer within the timeout."""


class BitcoinRequestLost(BitcoinConnectionError):
    """The connection dropped after `method` was sent; it is not repeated because running it
    twice could do something twice (pay, mine). Look at bitcoind before sending it again."""

    def __init__(self, url: str, method: str, cause: str) -> None:
        self.method = method
        super().__init__(
            url,
            f"connection lost ({cause}) after {method} was sent: it may have run; not repeated",
        )


class BitcoinBadReply(BitcoinConnectionError):
    """bitcoind (or whatever answers at the URL) sent something that is not the reply asked for."""


def rpc_error(code: int, message: str, method: str = "") -> BitcoinRPCError:
    """The typed error for an error object bitcoind returned."""
    cls = BitcoinWarmingUp if code == RPC_IN_WARMUP else BitcoinRPCError
    return cls(code, message, method)
