"""What every request passes through: metrics, errors in one shape, body limit, rate limit, CORS."""

import logging
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from relayer.api.context import CONFIG, LIMITER, METRICS
from relayer.api.errors import (
    ApiError,
    OriginNotAllowed,
    PayloadTooLarge,
    RateLimited,
    error_for,
    error_response,
)

log = logging.getLogger(__name__)
UNLIMITED_PATHS = frozenset({"/healthz", "/metrics"})
CORS_METHODS = "GET, POST, OPTIONS"
CORS_HEADERS = "Authorization, Content-Type, Last-Event-ID"
EXPLORER_POLICY = (
    "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "style-src 'self'; script-src 'self'; frame-ancestors 'none'"
)


@web.middleware
async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count and time every request under its route template (outermost: sees final status)."""
    started = time.perf_counter()
    response = await handler(request)
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    request.app[METRICS].observe(
        request.method, route, response.status, time.perf_counter() - started
    )
    return response


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The one place where exceptions become `{error: {code, message, field?}}` responses."""
    try:
        return await handler(request)
    except Exception as error:
        api_error = error_for(error)
        if not isinstance(error, ApiError | web.HTTPException):
            log.exception("%s %s failed", request.method, request.rel_url.path)
        return error_response(api_error)


@web.middleware
async def limits(request: web.Request, handler: Handler) -> web.StreamResponse:
    """CORS preflights, the per-client rate limit and the body size limit, before any handler."""
    api = request.app[CONFIG].api
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        if _allowed_origin(request) is None:
            raise OriginNotAllowed(
                f"origin {request.headers.get('Origin')!r} is not in api.cors_origins"
            )
        return web.Response(
            status=204,
            headers={
                "Access-Control-Allow-Methods": CORS_METHODS,
                "Access-Control-Allow-Headers": CORS_HEADERS,
                "Access-Control-Max-Age": "600",
            },
        )
    if request.path not in UNLIMITED_PATHS:
        retry_after = request.app[LIMITER].take(request.remote or "unknown")
        if retry_after is not None:
            raise RateLimited(api.rate_limit_per_minute, retry_after)
    if request.content_length is not None and request.content_length > api.max_body_bytes:
        raise PayloadTooLarge(request.content_length, api.max_body_bytes)
    return await handler(request)


def _allowed_origin(request: web.Request) -> str | None:
    """The value for Access-Control-Allow-Origin, or None if this origin gets no CORS."""
    origins = request.app[CONFIG].api.cors_origins
    origin = request.headers.get("Origin")
    if origin is None:
        return None
    if "*" in origins:
        return "*"
    return origin if origin in origins else None


async def response_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Set just before headers go out (streams too): CORS and hardening headers."""
    origin = _allowed_origin(request)
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = "Retry-After"
        if origin != "*":
            response.headers["Vary"] = "Origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    if response.content_type == "text/html":
        response.headers["Content-Security-Policy"] = EXPLORER_POLICY
        response.headers["X-Frame-Options"] = "DENY"
