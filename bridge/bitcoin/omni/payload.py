"""Omni class C payloads: the OP_RETURN bytes of simple send (0), managed property (54), grant (55).

A payload is `b"omni"` + version (u16) + type (u16) + the type's fields, all big-endian;
strings are UTF-8, null-terminated, at most 255 bytes. Amounts are int64 base units, 1..2^63-1.
"""

import struct
from dataclasses import dataclass
from enum import IntEnum

from bitcoin.core.script import OP_RETURN, CScript, CScriptInvalidError

from bridge.bitcoin.omni.errors import InvalidOmniField, OmniPayloadError, UnsupportedOmniMessage

MARKER = b"omni"
MAX_PAYLOAD = 76  # 80 bytes of OP_RETURN data minus the marker
MAX_AMOUNT = 2**63 - 1
MAX_STRING = 255
MAIN_ECOSYSTEM = 1
TEST_ECOSYSTEM = 2
MAINNET_USDT = 31
_HEADER = struct.Struct(">HH")
_SEND = struct.Struct(">IQ")
_CREATE = struct.Struct(">BHI")


class TxType(IntEnum):
    SIMPLE_SEND = 0
    CREATE_MANAGED_PROPERTY = 54
    GRANT_TOKENS = 55


class PropertyType(IntEnum):
    INDIVISIBLE = 1
    DIVISIBLE = 2


@dataclass(frozen=True)
class SimpleSend:
    """Move `amount` of `property_id` from the sender to the reference output's address."""

    property_id: int
    amount: int

    def __post_init__(self) -> None:
        _check_property_id(self.property_id)
        _check_amount(self.amount)


@dataclass(frozen=True)
class CreateManagedProperty:
    """A new property whose supply its issuer (the sender) grants and revokes."""

    name: str
    ecosystem: int = MAIN_ECOSYSTEM
    property_type: PropertyType = PropertyType.DIVISIBLE
    previous_property_id: int = 0
    category: str = ""
    subcategory: str = ""
    url: str = ""
    data: str = ""

    def __post_init__(self) -> None:
        if self.ecosystem not in (MAIN_ECOSYSTEM, TEST_ECOSYSTEM):
            raise InvalidOmniField("ecosystem", self.ecosystem, "1 (main) or 2 (test)")
        if self.property_type not in tuple(PropertyType):
            raise InvalidOmniField("property_type", self.property_type, "1 or 2 (new property)")
        if self.previous_property_id != 0:
            raise InvalidOmniField("previous_property_id", self.previous_property_id, "0")
        if not self.name:
            raise InvalidOmniField("name", self.name, "non-empty")
        for field in ("category", "subcategory", "name", "url", "data"):
            _check_string(field, getattr(self, field))


@dataclass(frozen=True)
class GrantTokens:
    """Mint `amount` of a managed property to the reference address (or the issuer itself)."""

    property_id: int
    amount: int
    memo: str = ""

    def __post_init__(self) -> None:
        _check_property_id(self.property_id)
        _check_amount(self.amount)
        _check_string("memo", self.memo)


OmniMessage = SimpleSend | CreateManagedProperty | GrantTokens


def encode(message: OmniMessage) -> bytes:
    """The payload including the `omni` marker, ready for an OP_RETURN push."""
    if isinstance(message, SimpleSend):
        body = _header(TxType.SIMPLE_SEND) + _SEND.pack(message.property_id, message.amount)
    elif isinstance(message, GrantTokens):
        body = _header(TxType.GRANT_TOKENS) + _SEND.pack(message.property_id, message.amount)
        body += _strings(message.memo)
    else:
        body = _header(TxType.CREATE_MANAGED_PROPERTY) + _CREATE.pack(
            message.ecosystem, message.property_type, message.previous_property_id
        )
        body += _strings(
            message.category, message.subcategory, message.name, message.url, message.data
        )
    if len(body) > MAX_PAYLOAD:
        raise InvalidOmniField("payload", body.hex(), f"at most {MAX_PAYLOAD} bytes")
    return MARKER + body


def decode(payload: bytes) -> OmniMessage:
    """Read a payload (with its marker) back; trailing bytes past the fields are ignored."""
    if not payload.startswith(MARKER):
        raise OmniPayloadError(payload, "no omni marker")
    body = payload[len(MARKER) :]
    if len(body) < _HEADER.size:
        raise OmniPayloadError(payload, "shorter than version and type")
    version, tx_type = _HEADER.unpack_from(body)
    fields = body[_HEADER.size :]
    try:
        if version == 0 and tx_type in (TxType.SIMPLE_SEND, TxType.GRANT_TOKENS):
            if len(fields) < _SEND.size:
                raise OmniPayloadError(payload, "property id and amount are truncated")
            property_id, amount = _SEND.unpack_from(fields)
            if tx_type == TxType.SIMPLE_SEND:
                return SimpleSend(property_id, amount)
            memo = _read_strings(payload, fields[_SEND.size :], 1, optional=True)
            return GrantTokens(property_id, amount, *memo)
        if version == 0 and tx_type == TxType.CREATE_MANAGED_PROPERTY:
            if len(fields) < _CREATE.size:
                raise OmniPayloadError(payload, "ecosystem and property type are truncated")
            ecosystem, property_type, previous = _CREATE.unpack_from(fields)
            category, subcategory, name, url, data = _read_strings(
                payload, fields[_CREATE.size :], 5
            )
            return CreateManagedProperty(
                name, ecosystem, property_type, previous, category, subcategory, url, data
            )
    except InvalidOmniField as error:
        raise OmniPayloadError(payload, str(error)) from error
    raise UnsupportedOmniMessage(payload, version, tx_type)


def op_return_script(message: OmniMessage) -> bytes:
    """The scriptPubKey of the OP_RETURN output carrying `message`."""
    return bytes(CScript([OP_RETURN, encode(message)]))


def payload_of_outputs(scripts: list[bytes]) -> bytes | None:
    """The Omni payload of a transaction's outputs (their scriptPubKeys), or None if it has none.

    As Omni Core reads class C: every OP_RETURN output whose first push starts with the marker
    counts; its pushes are joined, and the payloads of several such outputs are joined in order.
    """
    parts: list[bytes] = []
    for script in scripts:
        if not script or script[0] != OP_RETURN:
            continue
        try:
            pushes = [item for item in CScript(script[1:]) if isinstance(item, bytes)]
        except CScriptInvalidError:
            continue
        if pushes and pushes[0].startswith(MARKER):
            parts.append(pushes[0][len(MARKER) :] + b"".join(pushes[1:]))
    return MARKER + b"".join(parts) if parts else None


def _header(tx_type: TxType) -> bytes:
    return _HEADER.pack(0, tx_type)


def _strings(*values: str) -> bytes:
    return b"".join(value.encode() + b"\0" for value in values)


def _read_strings(payload: bytes, data: bytes, count: int, optional: bool = False) -> list[str]:
    if optional and not data:
        return []
    parts = data.split(b"\0")
    if len(parts) <= count:
        raise OmniPayloadError(payload, f"expected {count} null-terminated strings")
    try:
        return [part.decode() for part in parts[:count]]
    except UnicodeDecodeError as error:
        raise OmniPayloadError(payload, "a string is not UTF-8") from error


def _check_property_id(value: int) -> None:
    if not 1 <= value <= 0xFFFFFFFF:
        raise InvalidOmniField("property_id", value, "1..4294967295")


def _check_amount(value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_AMOUNT:
        raise InvalidOmniField("amount", value, f"an int in 1..{MAX_AMOUNT} base units")


def _check_string(field: str, value: str) -> None:
    if len(value.encode()) > MAX_STRING or "\0" in value:
        raise InvalidOmniField(field, value, f"at most {MAX_STRING} UTF-8 bytes without NUL")
