"""Errors about Omni payloads and the Omni indexer.

BitcoinError (bridge.bitcoin.errors)
└── OmniError
    ├── OmniPayloadError          bytes that are not a payload we can read
    │   └── UnsupportedOmniMessage a version/type outside the supported subset
    └── InvalidOmniField          a field value outside its range (amount, ecosystem, string)
"""

from bridge.bitcoin.errors import BitcoinError


class OmniError(BitcoinError):
    """Base of every Omni error."""


class OmniPayloadError(OmniError):
    def __init__(self, payload: bytes, reason: str) -> None:
        self.payload = payload
        super().__init__(f"bad Omni payload ({reason}): {payload.hex() or '(empty)'}")


class UnsupportedOmniMessage(OmniPayloadError):
    def __init__(self, payload: bytes, version: int, tx_type: int) -> None:
        self.version = version
        self.tx_type = tx_type
        super().__init__(payload, f"version {version} type {tx_type} is not supported")


class InvalidOmniField(OmniError):
    def __init__(self, field: str, value: object, allowed: str) -> None:
        self.field = field
        self.value = value
        super().__init__(f"Omni field {field} must be {allowed}, got {value!r}")


class InsufficientFunds(OmniError):
    def __init__(self, available: int, needed: int) -> None:
        self.available = available
        self.needed = needed
        super().__init__(f"inputs hold {available} sats, the transaction needs {needed}")
