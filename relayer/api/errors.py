"""The API's errors, and the one place a failure becomes `{error: {code, message, field?}}`.

SluiceError
└── ApiError                    an HTTP error with a stable `code` (and the `field` at fault)
    ├── InvalidParameter        400: a query, path or body value is malformed or out of range
    ├── InvalidJson             400: the body is not a JSON object
    ├── HttpError               4xx: refused by aiohttp itself (code: the status's name)
    ├── NotFound                404: no such record or route
    ├── MethodNotAllowed        405
    ├── Unauthorized            401: admin endpoint without the right bearer token
    ├── AdminDisabled           403: no admin token is configured, so admin endpoints are off
    ├── OriginNotAllowed        403: a CORS preflight from an origin not in api.cors_origins
    ├── PayloadTooLarge         413: body above api.max_body_bytes
    ├── UnsupportedMediaType    415: a body that is not application/json
    ├── RateLimited             429: the client spent its per-minute budget
    ├── BridgePaused            503: an admin paused the bridge; no new deposit address
    ├── FederationNotConfigured 503: bridge.federation_pubkeys is empty
    ├── LedgerUnavailable       503: the ledger database does not answer
    ├── TooManyStreams          503: the event stream limit is reached
    └── UpstreamUnavailable     503: bitcoind or the sidechain node did not answer

LedgerNotMigrated (a SluiceError, not an HTTP error) stops `sluice api` at startup when the
ledger has no schema.

`error_for` maps ledger and deposit-script errors to these classes; any other exception is a 500
whose message never repeats the exception (it could carry a secret).
"""

import json
from http import HTTPStatus
from typing import ClassVar

from aiohttp import web
from sqlalchemy.exc import DataError, InterfaceError, OperationalError

from bridge.bitcoin.script_errors import DepositScriptError
from bridge.ledger.errors import (
    InvalidCursor,
    InvalidEvmAddress,
    InvalidPageSize,
    RecordNotFound,
)
from sluice.errors import SluiceError


class ApiError(SluiceError):
    """An error the client can act on; `status` is the HTTP status, `code` a stable name."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, field: str | None = None) -> None:
        self.message = message
        self.field = field
        super().__init__(message)

    def body(self) -> dict[str, dict[str, str]]:
        error = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        return {"error": error}


class InvalidParameter(ApiError):
    status = 400
    code = "invalid_parameter"

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.value = value
        super().__init__(f"{field}: {reason}, got {_shown(value)}", field)


class InvalidJson(ApiError):
    status = 400
    code = "invalid_json"


class HttpError(ApiError):
    """Its code is the status's name: 403 `forbidden`, 400 `bad_request`, 408 `request_timeout`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status  # type: ignore[misc]
        self.code = HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")  # type: ignore[misc]


class NotFound(ApiError):
    status = 404
    code = "not_found"


class MethodNotAllowed(ApiError):
    status = 405
    code = "method_not_allowed"


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"


class AdminDisabled(ApiError):
    status = 403
    code = "admin_disabled"


class OriginNotAllowed(ApiError):
    status = 403
    code = "origin_not_allowed"


class PayloadTooLarge(ApiError):
    status = 413
    code = "payload_too_large"

    def __init__(self, size: int | None, limit: int) -> None:
        got = "more" if size is None else f"{size} bytes"
        super().__init__(f"request body must be at most {limit} bytes, got {got}")


class UnsupportedMediaType(ApiError):
    status = 415
    code = "unsupported_media_type"


class RateLimited(ApiError):
    status = 429
    code = "rate_limited"

    def __init__(self, limit_per_minute: int, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(
            f"more than {limit_per_minute} requests per minute from this client; "
            f"retry in {retry_after} s"
        )


class BridgePaused(ApiError):
    status = 503
    code = "bridge_paused"


class FederationNotConfigured(ApiError):
    status = 503
    code = "federation_not_configured"


class LedgerUnavailable(ApiError):
    status = 503
    code = "ledger_unavailable"


class TooManyStreams(ApiError):
    status = 503
    code = "too_many_streams"


class UpstreamUnavailable(ApiError):
    status = 503
    code = "upstream_unavailable"

    def __init__(self, upstream: str, reason: str) -> None:
        self.upstream = upstream
        super().__init__(f"{upstream} is unreachable: {reason}")


class LedgerNotMigrated(SluiceError):
    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(f"the ledger at {url} has no schema: run `sluice db upgrade` first")


def _shown(value: object) -> str:
    """The offending value, quoted and cut short so a huge input is not echoed back whole."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def error_for(error: Exception) -> ApiError:
    """The API error that stands for `error` (a 500 for anything unexpected)."""
    if isinstance(error, ApiError):
        return error
    if isinstance(error, RecordNotFound):
        return NotFound(str(error))
    if isinstance(error, InvalidCursor):
        return InvalidParameter("cursor", error.cursor, "not a cursor this API issued")
    if isinstance(error, InvalidPageSize):
        return InvalidParameter("limit", error.limit, f"must be 1..{error.maximum}")
    if isinstance(error, InvalidEvmAddress):
        return InvalidParameter(error.field, error.value, "must be 0x followed by 40 hex digits")
    if isinstance(error, DepositScriptError):
        return InvalidParameter("body", None, str(error))
    if isinstance(error, web.HTTPMethodNotAllowed):
        return MethodNotAllowed(f"method {error.method} is not allowed here")
    if isinstance(error, web.HTTPNotFound):
        return NotFound("no such endpoint")
    if isinstance(error, web.HTTPException) and 400 <= error.status < 500:
        return HttpError(error.status, error.reason)
    if isinstance(error, DataError | OverflowError):
        return HttpError(400, "a value in the query is out of the ledger's range")
    if isinstance(error, OperationalError | InterfaceError):
        return LedgerUnavailable("the ledger database does not answer")
    return ApiError("internal error; the server log has the details")


def error_response(error: ApiError) -> web.Response:
    response = web.Response(
        status=error.status,
        text=json.dumps(error.body(), separators=(",", ":")),
        content_type="application/json",
    )
    if isinstance(error, RateLimited):
        response.headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, Unauthorized):
        response.headers["WWW-Authenticate"] = 'Bearer realm="sluice-admin"'
    return response
