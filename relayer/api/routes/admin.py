"""Admin endpoints: pause and resume the bridge, behind the bearer token `api.admin_token`.

The pause is this member's (its ledger's flag): while paused it attests no deposit and signs or
coordinates no vault spend. No single member can freeze the federation; pausing a quorum of
members (each through its own API) stops minting and releases."""

import hmac

from aiohttp import web

from bridge.ledger import MAX_REASON_CHARS, Ledger, PauseState
from relayer.api import params
from relayer.api.context import CONFIG, in_ledger
from relayer.api.errors import AdminDisabled, InvalidParameter, Unauthorized
from relayer.api.routes.respond import json_response
from relayer.api.views import Json, timestamp

routes = web.RouteTableDef()


def require_admin(request: web.Request) -> None:
    """Compare the bearer token in constant time; the token given is never echoed or logged."""
    token = request.app[CONFIG].api.admin_token
    if not token:
        raise AdminDisabled("admin endpoints are disabled: api.admin_token is not set")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        raise Unauthorized("admin endpoints need the header Authorization: Bearer <admin token>")


def pause_view(state: PauseState) -> Json:
    return {"paused": state.paused, "reason": state.reason, "since": timestamp(state.since)}


@routes.post("/v1/admin/pause")
async def pause(request: web.Request) -> web.Response:
    require_admin(request)
    body = await params.json_object(request, request.app[CONFIG].api.max_body_bytes)
    params.body_fields(body, required=set(), optional={"reason"})
    reason = body.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_REASON_CHARS):
        raise InvalidParameter("reason", reason, f"must be a string of <= {MAX_REASON_CHARS} chars")

    def store(ledger: Ledger) -> Json:
        return pause_view(ledger.pause.set(True, reason))

    return json_response(await in_ledger(request, store))


@routes.post("/v1/admin/resume")
async def resume(request: web.Request) -> web.Response:
    require_admin(request)
    body = await params.json_object(request, request.app[CONFIG].api.max_body_bytes)
    params.body_fields(body, required=set(), optional=set())

    def store(ledger: Ledger) -> Json:
        return pause_view(ledger.pause.set(False, None))

    return json_response(await in_ledger(request, store))
