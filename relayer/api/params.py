"""Input validation: each parser takes a raw query, path or body value and names what is wrong."""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from aiohttp import web
from bitcoin import base58, segwit_addr

from bridge.bitcoin.deposit_script import parse_evm_address, parse_public_key
from bridge.bitcoin.network import Network
from bridge.bitcoin.script_errors import InvalidEvmAddress, InvalidPublicKey
from bridge.ledger.pagination import MAX_PAGE_SIZE
from bridge.ledger.states import Asset
from relayer.api.errors import InvalidJson, InvalidParameter, PayloadTooLarge, UnsupportedMediaType

DEFAULT_PAGE_SIZE = 50
MAX_VOUT = 2**32 - 1
MAX_CURSOR_CHARS = 512
MAX_BITCOIN_ADDRESS_CHARS = 90
_TXID = re.compile(r"[0-9a-fA-F]{64}")
_HASH32 = re.compile(r"0x[0-9a-fA-F]{64}")
_UINT = re.compile(r"[0-9]{1,20}")
# Base58 version bytes of pay-to-pubkey-hash and pay-to-script-hash addresses per network.
_BASE58_VERSIONS = {
    Network.MAINNET: {0, 5},
    Network.TESTNET: {111, 196},
    Network.SIGNET: {111, 196},
    Network.REGTEST: {111, 196},
}
E = TypeVar("E", bound=StrEnum)


@dataclass(frozen=True)
class PageRequest:
    cursor: str | None
    limit: int


def txid(field: str, value: str) -> str:
    """A Bitcoin txid: 64 hex digits, returned lower-case."""
    if not _TXID.fullmatch(value):
        raise InvalidParameter(field, value, "must be a txid (64 hex digits)")
    return value.lower()


def deposit_id(value: str) -> str:
    """`txid:vout`, the outpoint that paid a deposit address."""
    head, separator, vout = value.partition(":")
    if not separator:
        raise InvalidParameter("deposit_id", value, "must be txid:vout")
    if not _UINT.fullmatch(vout) or int(vout) > MAX_VOUT:
        raise InvalidParameter("deposit_id", value, f"vout must be an integer 0..{MAX_VOUT}")
    return f"{txid('deposit_id', head)}:{int(vout)}"


def hash32(field: str, value: str) -> str:
    """A sidechain id or hash: 0x + 64 hex digits, returned lower-case."""
    if not _HASH32.fullmatch(value):
        raise InvalidParameter(field, value, "must be 0x followed by 64 hex digits")
    return value.lower()


def evm_address(field: str, value: object) -> str:
    """0x + 40 hex digits (EIP-55 checked when mixed case), returned lower-case."""
    try:
        return "0x" + parse_evm_address(value).hex()  # type: ignore[arg-type]
    except InvalidEvmAddress as error:
        reason = str(error).rpartition(": ")[2]
        raise InvalidParameter(field, value, f"must be an EVM address ({reason})") from None


def public_key(field: str, value: object) -> str:
    """A compressed secp256k1 public key as 66 hex digits, returned lower-case."""
    if not isinstance(value, str) or not re.fullmatch(r"[0-9a-fA-F]{66}", value):
        raise InvalidParameter(field, value, "must be a compressed public key (66 hex digits)")
    try:
        return parse_public_key(value).hex()
    except InvalidPublicKey as error:
        reason = str(error).rpartition(": ")[2]
        raise InvalidParameter(field, value, f"not a valid public key ({reason})") from None


def bitcoin_address(field: str, value: str, network: Network) -> str:
    """A segwit (bech32/bech32m) or base58 address of `network`, checksum verified."""
    if len(value) > MAX_BITCOIN_ADDRESS_CHARS:
        raise InvalidParameter(field, value, f"longer than {MAX_BITCOIN_ADDRESS_CHARS} chars")
    if value.lower().startswith(network.hrp + "1"):
        version, program = segwit_addr.decode(network.hrp, value)
        if version is not None and program is not None:
            return value.lower()
    else:
        try:
            data = base58.CBase58Data(value)
        except (base58.Base58Error, ValueError):
            data = None
        if data is not None and len(data) == 20 and data.nVersion in _BASE58_VERSIONS[network]:
            return value
    raise InvalidParameter(field, value, f"must be a valid {network.value} Bitcoin address")


def choice(field: str, value: str, enum: type[E]) -> E:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise InvalidParameter(field, value, f"must be one of {allowed}") from None


def page(query: Mapping[str, str]) -> PageRequest:
    """`cursor` and `limit` (1..MAX_PAGE_SIZE, default DEFAULT_PAGE_SIZE)."""
    raw_limit = query.get("limit")
    limit = DEFAULT_PAGE_SIZE
    if raw_limit is not None:
        if not re.fullmatch(r"[0-9]{1,7}", raw_limit) or not 1 <= int(raw_limit) <= MAX_PAGE_SIZE:
            raise InvalidParameter("limit", raw_limit, f"must be an integer 1..{MAX_PAGE_SIZE}")
        limit = int(raw_limit)
    cursor = query.get("cursor")
    if cursor is not None and not 1 <= len(cursor) <= MAX_CURSOR_CHARS:
        raise InvalidParameter("cursor", cursor, "not a cursor this API issued")
    return PageRequest(cursor or None, limit)


def unsigned(field: str, value: str, maximum: int = 2**63 - 1) -> int:
    if not _UINT.fullmatch(value) or int(value) > maximum:
        raise InvalidParameter(field, value, f"must be an integer 0..{maximum}")
    return int(value)


def only_known(query: Mapping[str, str], known: set[str]) -> None:
    """Refuse a query parameter the endpoint does not have (a typo would silently match all)."""
    for name in query:
        if name not in known:
            allowed = ", ".join(sorted(known)) or "none"
            raise InvalidParameter(name, query[name], f"unknown parameter (allowed: {allowed})")


async def json_object(request: web.Request, max_bytes: int) -> dict[str, Any]:
    """The body as a JSON object, read at most `max_bytes` (an empty body is `{}`)."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise PayloadTooLarge(request.content_length, max_bytes)
    raw = await request.content.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise PayloadTooLarge(None, max_bytes)
    if not raw.strip():
        return {}
    if request.content_type != "application/json":
        raise UnsupportedMediaType(
            f"request body must be application/json, got {request.content_type!r}"
        )
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidJson(f"request body is not valid JSON: {error}") from None
    if not isinstance(body, dict):
        raise InvalidJson(f"request body must be a JSON object, got {type(body).__name__}")
    return body


def body_fields(body: Mapping[str, Any], required: set[str], optional: set[str]) -> None:
    """Every required field present, and no field the endpoint does not know."""
    missing = sorted(required - body.keys())
    if missing:
        raise InvalidParameter(missing[0], None, "is required")
    unknown = sorted(body.keys() - required - optional)
    if unknown:
        raise InvalidParameter(unknown[0], body[unknown[0]], "unknown field")


TRANSFER_LIST_PARAMS = {"evm_address", "btc_address", "status", "asset", "cursor", "limit"}


def transfer_filters(
    query: Mapping[str, str],
    network: Network,
    statuses: type[StrEnum],
    evm_column: str,
    btc_column: str,
) -> tuple[dict[str, Any], PageRequest]:
    """A deposits or withdrawals listing's query: the ledger filters (evm_address and
    btc_address under the record's own column names, status, asset) and the page."""
    only_known(query, TRANSFER_LIST_PARAMS)
    requested = page(query)
    filters: dict[str, Any] = {}
    if "evm_address" in query:
        filters[evm_column] = evm_address("evm_address", query["evm_address"])
    if "btc_address" in query:
        filters[btc_column] = bitcoin_address("btc_address", query["btc_address"], network)
    if "status" in query:
        filters["status"] = choice("status", query["status"], statuses)
    if "asset" in query:
        filters["asset"] = choice("asset", query["asset"], Asset)
    return filters, requested
