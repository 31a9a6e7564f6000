"""Operations endpoints: liveness (`/healthz`), Prometheus metrics, the OpenAPI document."""

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bridge.ledger.ledger import Ledger
from relayer.api import bridge_state
from relayer.api.context import METRICS, in_ledger
from relayer.api.errors import LedgerUnavailable
from relayer.api.metrics import CONTENT_TYPE
from relayer.api.openapi import openapi_document
from relayer.api.routes.respond import json_response

routes = web.RouteTableDef()
Gauges = dict[str, dict[tuple[tuple[str, str], ...], int]]


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    def ping(ledger: Ledger) -> None:
        ledger.session.execute(text("SELECT 1"))

    try:
        await in_ledger(request, ping)
    except SQLAlchemyError as error:
        reason = type(error).__name__
        raise LedgerUnavailable(f"the ledger database does not answer ({reason})") from None
    return json_response({"status": "ok"})


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    def read(ledger: Ledger) -> Gauges:
        return {
            "sluice_bridge_paused": {(): int(bridge_state.pause_state(ledger).paused)},
            "sluice_ledger_deposits": _by_status(ledger.deposits.count_by_status()),
            "sluice_ledger_withdrawals": _by_status(ledger.withdrawals.count_by_status()),
            "sluice_ledger_claims": _by_status(ledger.claims.count_by_status()),
        }

    body = request.app[METRICS].render(await in_ledger(request, read))
    return web.Response(body=body.encode(), headers={"Content-Type": CONTENT_TYPE})


def _by_status(counts: dict[str, int]) -> dict[tuple[tuple[str, str], ...], int]:
    return {(("status", status),): count for status, count in counts.items()}


@routes.get("/v1/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return json_response(openapi_document())
