"""`GET /v1/events`: the ledger's audit log as Server-Sent Events, so a UI updates live.

Each event is one audit entry: `id` is its audit id (a reconnecting browser sends it back as
Last-Event-ID and misses nothing), `event` the record kind, `data` the entry as JSON.

Ids come from a sequence, and a transaction may commit after a later one: an id missing from
a batch may still appear. The stream waits up to GAP_GRACE_SECONDS for such a gap to fill
before passing it (a rolled-back transaction leaves a gap for ever).
"""

import asyncio
import json
import time
from datetime import datetime
from functools import partial

from aiohttp import web
from sqlalchemy import func, select

from bridge.ledger.ledger import Ledger
from bridge.ledger.models import AuditEntry
from bridge.ledger.types import utcnow
from relayer.api import params
from relayer.api.context import METRICS, in_ledger
from relayer.api.errors import TooManyStreams
from relayer.api.views import Json, timestamp

routes = web.RouteTableDef()
POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0
BATCH = 100
MAX_STREAMS = 100
MAX_AUDIT_ID = 2**63 - 1
GAP_GRACE_SECONDS = 2.0


def event_view(entry: AuditEntry) -> Json:
    return {
        "id": entry.id,
        "at": timestamp(entry.at),
        "record_kind": entry.record_kind,
        "record_id": entry.record_id,
        "action": entry.action,
        "from_status": entry.from_status,
        "to_status": entry.to_status,
        "detail": entry.detail,
    }


def _entries_after(entry_id: int, ledger: Ledger) -> list[Json]:
    return [event_view(entry) for entry in ledger.audit.after(entry_id, BATCH)]


def _frame(event: Json) -> bytes:
    """One SSE frame; JSON has no raw newline, so `data` is one line."""
    return (
        f"id: {event['id']}\nevent: {event['record_kind']}\ndata: {json.dumps(event)}\n\n"
    ).encode()


def releasable(
    events: list[Json], last: int, gap_since: float | None, now: float
) -> tuple[list[Json], float | None]:
    """The events that may go out after id `last`, and since when a gap has been waited on.

    A gap is passed once the entry after it is older than the grace (a replay of history
    never waits) or once this stream has waited the grace for it (whatever the clocks say).
    """
    run = 0
    while run < len(events) and events[run]["id"] == last + 1 + run:
        run += 1
    if run == len(events):
        return events, None
    written = datetime.fromisoformat(events[run]["at"].replace("Z", "+00:00"))
    since = now if gap_since is None else gap_since
    waited = max(now - since, (utcnow() - written).total_seconds())
    if waited >= GAP_GRACE_SECONDS:
        return events, None
    return events[:run], since


def _latest(ledger: Ledger) -> int:
    return int(ledger.session.scalar(select(func.max(AuditEntry.id))) or 0)


@routes.get("/v1/events")
async def events(request: web.Request) -> web.StreamResponse:
    params.only_known(request.query, {"after"})
    metrics = request.app[METRICS]
    if metrics.sse_streams >= MAX_STREAMS:
        raise TooManyStreams(f"at most {MAX_STREAMS} event streams at once; retry later")
    resume_from = request.query.get("after", request.headers.get("Last-Event-ID"))
    if resume_from is None:
        # Only what happens from now on: fixed before the headers go out, so a client that
        # has the response open sees every entry written after that.
        last = await in_ledger(request, _latest)
    else:
        last = params.unsigned("after", resume_from, MAX_AUDIT_ID)
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
    )
    await response.prepare(request)
    metrics.sse_streams += 1
    try:
        await response.write(b"retry: 2000\n\n")
        quiet_since = time.monotonic()
        gap_since: float | None = None
        while True:
            batch = await in_ledger(request, partial(_entries_after, last))
            ready, gap_since = releasable(batch, last, gap_since, time.monotonic())
            for event in ready:
                await response.write(_frame(event))
                last = event["id"]
            if ready:
                quiet_since = time.monotonic()
                if len(ready) == BATCH:
                    continue
            if time.monotonic() - quiet_since > KEEPALIVE_SECONDS:
                await response.write(b": keepalive\n\n")
                quiet_since = time.monotonic()
            await asyncio.sleep(POLL_SECONDS)
    except ConnectionResetError:
        return response
    finally:
        metrics.sse_streams -= 1
