"""Parameter parsing for the JSON-RPC methods: each malformed value is named with its position."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sidechain.rpc.errors import InvalidParams
from sidechain.views import CallRequest

T = TypeVar("T")

BLOCK_TAGS = frozenset({"latest", "pending", "earliest", "safe", "finalized"})
MAX_UINT256 = 2**256 - 1

# A block is named by a tag ("latest", ...), a number, or a 32-byte hash.
BlockId = str | int | bytes


class ValueInvalid(ValueError):
    """One value failed to parse; `Params` turns it into InvalidParams naming the argument."""


@dataclass(frozen=True)
class LogQuery:
    """eth_getLogs / eth_newFilter criteria: a block range or one block hash, addresses, topics.

    Block tags stay unresolved: a filter resolves "latest" anew at each poll. `topics[i]` is
    None for "any topic at position i", else the accepted topics (as `views.LogFilter`).
    """

    from_block: int | str = "latest"
    to_block: int | str = "latest"
    block_hash: bytes | None = None
    addresses: tuple[bytes, ...] = ()
    topics: tuple[tuple[bytes, ...] | None, ...] = ()


def _hex_digits(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ValueInvalid(f"{what} must be a hex string, got {value!r}")
    if not value.startswith(("0x", "0X")):
        raise ValueInvalid(f"{what} must start with 0x, got {value!r}")
    return value[2:]


def quantity(value: Any) -> int:
    """A hex quantity as in the Ethereum JSON-RPC spec: 0x-prefixed, no leading zeros, <= 2^256."""
    digits = _hex_digits(value, "quantity")
    if digits == "":
        raise ValueInvalid("quantity 0x has no digits")
    if len(digits) > 1 and digits[0] == "0":
        raise ValueInvalid(f"quantity {value!r} has leading zero digits")
    if len(digits) > 64:
        raise ValueInvalid(f"quantity {value!r} is larger than 256 bits")
    try:
        return int(digits, 16)
    except ValueError:
        raise ValueInvalid(f"quantity {value!r} is not hexadecimal") from None


def data(value: Any) -> bytes:
    """0x-prefixed bytes with an even number of hex digits."""
    digits = _hex_digits(value, "data")
    if len(digits) % 2:
        raise ValueInvalid(f"data {value!r} has an odd number of hex digits")
    try:
        return bytes.fromhex(digits)
    except ValueError:
        raise ValueInvalid(f"data {value!r} is not hexadecimal") from None


def fixed_bytes(size: int, what: str) -> Callable[[Any], bytes]:
    def parse(value: Any) -> bytes:
        raw = data(value)
        if len(raw) != size:
            raise ValueInvalid(f"{what} must be {size} bytes, got {len(raw)} bytes: {value!r}")
        return raw

    return parse


address = fixed_bytes(20, "address")
hash32 = fixed_bytes(32, "hash")


def storage_slot(value: Any) -> int:
    """A storage position: geth accepts any hex up to 32 bytes, leading zeros included."""
    digits = _hex_digits(value, "storage slot")
    if not 0 < len(digits) <= 64:
        raise ValueInvalid(f"storage slot {value!r} must have 1 to 64 hex digits")
    try:
        return int(digits, 16)
    except ValueError:
        raise ValueInvalid(f"storage slot {value!r} is not hexadecimal") from None


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueInvalid(f"expected true or false, got {value!r}")
    return value


def block_id(value: Any) -> BlockId:
    """A tag, a hex number, or an EIP-1898 object {"blockNumber"} / {"blockHash"}."""
    if isinstance(value, dict):
        if set(value) - {"blockNumber", "blockHash", "requireCanonical"}:
            raise ValueInvalid(f"unknown block selector fields in {value!r}")
        if ("blockNumber" in value) == ("blockHash" in value):
            raise ValueInvalid(f"give exactly one of blockNumber or blockHash, got {value!r}")
        if "blockHash" in value:
            return hash32(value["blockHash"])
        return block_id(value["blockNumber"])
    if isinstance(value, str) and value in BLOCK_TAGS:
        return value
    if isinstance(value, str) and len(value) == 66:
        return hash32(value)
    try:
        return quantity(value)
    except ValueInvalid:
        raise ValueInvalid(
            f"block must be a tag ({', '.join(sorted(BLOCK_TAGS))}), "
            f"a hex number or a block hash, got {value!r}"
        ) from None


def block_number_or_tag(value: Any) -> int | str:
    """Like block_id, but hashes are refused (eth_getBlockByNumber, eth_feeHistory)."""
    parsed = block_id(value)
    if isinstance(parsed, bytes):
        raise ValueInvalid(f"expected a block number or tag, got a hash {value!r}")
    return parsed


def _field(obj: dict[str, Any], key: str, parse: Callable[[Any], T]) -> T | None:
    value = obj.get(key)
    if value is None:
        return None
    try:
        return parse(value)
    except ValueInvalid as error:
        raise ValueInvalid(f"field {key}: {error}") from None


def call_request(value: Any) -> CallRequest:
    """The transaction object. `input` and `data` may both be set only if equal (as in geth);
    `nonce` and `accessList` are accepted and not used (the node's calls take neither)."""
    if not isinstance(value, dict):
        raise ValueInvalid(f"transaction must be an object, got {value!r}")
    payload = _field(value, "input", data)
    legacy_payload = _field(value, "data", data)
    if payload is not None and legacy_payload is not None and payload != legacy_payload:
        raise ValueInvalid("both data and input are set and they differ")
    if _field(value, "gasPrice", quantity) is not None and (
        "maxFeePerGas" in value or "maxPriorityFeePerGas" in value
    ):
        raise ValueInvalid("both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) are set")
    return CallRequest(
        sender=_field(value, "from", address),
        to=_field(value, "to", address),
        gas=_field(value, "gas", quantity),
        gas_price=_field(value, "gasPrice", quantity),
        max_fee_per_gas=_field(value, "maxFeePerGas", quantity),
        max_priority_fee_per_gas=_field(value, "maxPriorityFeePerGas", quantity),
        value=_field(value, "value", quantity) or 0,
        data=payload if payload is not None else legacy_payload or b"",
    )


def _one_or_many(value: Any, parse: Callable[[Any], bytes]) -> tuple[bytes, ...]:
    if isinstance(value, list):
        return tuple(dict.fromkeys(parse(item) for item in value))
    return (parse(value),)


def _topics(value: Any) -> tuple[tuple[bytes, ...] | None, ...]:
    if not isinstance(value, list):
        raise ValueInvalid(f"topics must be a list, got {value!r}")
    if len(value) > 4:
        raise ValueInvalid(f"topics has {len(value)} positions, at most 4 are allowed")
    return tuple(
        None if position is None or position == [] else _one_or_many(position, hash32)
        for position in value
    )


def log_query(value: Any) -> LogQuery:
    if not isinstance(value, dict):
        raise ValueInvalid(f"filter must be an object, got {value!r}")
    block_hash = _field(value, "blockHash", hash32)
    if block_hash is not None and (
        value.get("fromBlock") is not None or value.get("toBlock") is not None
    ):
        raise ValueInvalid("blockHash cannot be combined with fromBlock or toBlock")
    from_block = _field(value, "fromBlock", block_number_or_tag)
    to_block = _field(value, "toBlock", block_number_or_tag)
    return LogQuery(
        from_block="latest" if from_block is None else from_block,
        to_block="latest" if to_block is None else to_block,
        block_hash=block_hash,
        addresses=_field(value, "address", lambda v: _one_or_many(v, address)) or (),
        topics=_field(value, "topics", _topics) or (),
    )


class Params:
    """The positional parameters of one call, parsed one by one with precise errors."""

    def __init__(self, values: list[Any]) -> None:
        self._values = values

    def expect(self, required: int, optional: int = 0) -> None:
        """Refuse too few or too many arguments (trailing nulls count as absent, as in geth)."""
        given = len(self._values)
        while given > required and self._values[given - 1] is None:
            given -= 1
        if not required <= given <= required + optional:
            wanted = str(required) if not optional else f"{required} to {required + optional}"
            raise InvalidParams(f"expected {wanted} arguments, got {given}")

    def get(self, index: int, parse: Callable[[Any], T]) -> T:
        if index >= len(self._values) or self._values[index] is None:
            raise InvalidParams(f"missing value for required argument {index}")
        return self._parse(index, parse)

    def optional(self, index: int, parse: Callable[[Any], T], default: T) -> T:
        if index >= len(self._values) or self._values[index] is None:
            return default
        return self._parse(index, parse)

    def _parse(self, index: int, parse: Callable[[Any], T]) -> T:
        try:
            return parse(self._values[index])
        except ValueInvalid as error:
            raise InvalidParams(f"invalid argument {index}: {error}") from None
