"""Fraud-proof windows: operators' claims, the challenges against them, state commitments."""

from typing import Any

from aiohttp import web

from bridge.ledger.ledger import Ledger
from bridge.ledger.states import ChallengeStatus, ClaimKind, ClaimStatus, CommitmentStatus
from relayer.api import params
from relayer.api.context import in_ledger
from relayer.api.routes.respond import json_response
from relayer.api.routes.withdrawals import heights
from relayer.api.views import Json, challenge_view, claim_view, commitment_view, page_view

routes = web.RouteTableDef()
MAX_CLAIM_ID = 2**63 - 1


@routes.get("/v1/claims")
async def list_claims(request: web.Request) -> web.Response:
    query = request.query
    params.only_known(query, {"kind", "status", "operator", "cursor", "limit"})
    page = params.page(query)
    filters: dict[str, Any] = {}
    if "kind" in query:
        filters["kind"] = params.choice("kind", query["kind"], ClaimKind)
    if "status" in query:
        filters["status"] = params.choice("status", query["status"], ClaimStatus)
    if "operator" in query:
        filters["operator"] = params.evm_address("operator", query["operator"])
    tips = await heights(request, sidechain=True)

    def read(ledger: Ledger) -> Json:
        found = ledger.claims.page(**filters, cursor=page.cursor, limit=page.limit)
        return page_view([claim_view(c, tips) for c in found.items], found.next_cursor)

    return json_response(await in_ledger(request, read))


@routes.get("/v1/challenges")
async def list_challenges(request: web.Request) -> web.Response:
    query = request.query
    params.only_known(query, {"claim_id", "challenger", "status", "cursor", "limit"})
    page = params.page(query)
    filters: dict[str, Any] = {}
    if "claim_id" in query:
        filters["claim_id"] = params.unsigned("claim_id", query["claim_id"], MAX_CLAIM_ID)
    if "challenger" in query:
        filters["challenger"] = params.evm_address("challenger", query["challenger"])
    if "status" in query:
        filters["status"] = params.choice("status", query["status"], ChallengeStatus)

    def read(ledger: Ledger) -> Json:
        found = ledger.challenges.page(**filters, cursor=page.cursor, limit=page.limit)
        return page_view([challenge_view(c) for c in found.items], found.next_cursor)

    return json_response(await in_ledger(request, read))


@routes.get("/v1/commitments")
async def list_commitments(request: web.Request) -> web.Response:
    query = request.query
    params.only_known(query, {"status", "cursor", "limit"})
    page = params.page(query)
    status = None
    if "status" in query:
        status = params.choice("status", query["status"], CommitmentStatus)

    def read(ledger: Ledger) -> Json:
        found = ledger.commitments.page(status=status, cursor=page.cursor, limit=page.limit)
        return page_view([commitment_view(c) for c in found.items], found.next_cursor)

    return json_response(await in_ledger(request, read))
