"""GET /v1/events: the audit log as Server-Sent Events, replayable by id, live as records move."""

import asyncio
import json
from datetime import UTC, datetime, timedelta

from bridge.ledger import DepositStatus, Ledger
from bridge.ledger.testing import deposit
from relayer.api.routes.events import GAP_GRACE_SECONDS, releasable


async def read_events(response, count: int) -> list[tuple[str, str, dict]]:
    """The next `count` events as (id, event, data), within 10 s."""
    events, fields = [], {}
    async with asyncio.timeout(10):
        while len(events) < count:
            line = (await response.content.readline()).decode().rstrip("\n")
            if not line:
                if "data" in fields:
                    events.append((fields["id"], fields["event"], json.loads(fields["data"])))
                fields = {}
                continue
            name, _, value = line.partition(": ")
            fields[name] = value
    return events


async def test_replays_from_an_id_then_streams_new_entries(api_client, write):
    deposit_id = write(lambda ledger: deposit(ledger).id)  # audit: address created, deposit seen
    response = await api_client.get("/v1/events?after=0")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/event-stream"
    replayed = await read_events(response, 2)
    assert [(kind, data["action"]) for _, kind, data in replayed] == [
        ("deposit_address", "created"),
        ("deposit", "created"),
    ]
    write(lambda ledger: ledger.deposits.move(deposit_id, DepositStatus.CONFIRMED))
    ((event_id, kind, data),) = await read_events(response, 1)
    assert kind == "deposit" and data["record_id"] == deposit_id
    assert (data["from_status"], data["to_status"]) == ("seen", "confirmed")
    assert int(event_id) == data["id"] > int(replayed[-1][0])
    response.close()


async def test_without_an_id_only_new_events_arrive(api_client, write):
    """The stream fixes its starting point (the newest entry) before it sends its headers: once
    the response is open, whatever is written is new, and nothing older comes."""
    write(lambda ledger: deposit(ledger))
    response = await api_client.get("/v1/events", headers={})
    assert response.status == 200
    write(lambda ledger: ledger.audit.append("bridge", "bridge", "paused"))
    ((_, kind, data),) = await read_events(response, 1)
    assert (kind, data["action"]) == ("bridge", "paused")
    response.close()


async def test_last_event_id_header_resumes(api_client, write):
    def seed(ledger: Ledger) -> int:
        deposit(ledger)
        ledger.session.flush()
        return ledger.audit.after(0)[-1].id

    last = write(seed)
    write(lambda ledger: ledger.audit.append("bridge", "bridge", "resumed"))
    response = await api_client.get("/v1/events", headers={"Last-Event-ID": str(last)})
    ((event_id, _, data),) = await read_events(response, 1)
    assert data["action"] == "resumed" and int(event_id) == last + 1
    response.close()


async def test_bad_resume_point_is_400(api_client):
    for path, headers in (("/v1/events?after=-1", {}), ("/v1/events", {"Last-Event-ID": "x"})):
        response = await api_client.get(path, headers=headers)
        assert response.status == 400 and (await response.json())["error"]["field"] == "after"


def entry(entry_id: int, age_seconds: float = 0.0) -> dict:
    at = datetime.now(UTC) - timedelta(seconds=age_seconds)
    return {"id": entry_id, "at": at.isoformat().replace("+00:00", "Z")}


def test_a_fresh_gap_in_ids_is_waited_on_then_passed():
    events = [entry(5), entry(7)]  # id 6 may belong to a transaction not yet committed
    ready, since = releasable(events, 4, None, now=100.0)
    assert [e["id"] for e in ready] == [5] and since == 100.0
    ready, since = releasable([entry(7)], 5, since, now=100.0 + GAP_GRACE_SECONDS)
    assert [e["id"] for e in ready] == [7] and since is None


def test_an_old_gap_never_delays_a_replay():
    ready, since = releasable([entry(1, 60), entry(9, 60)], 0, None, now=5.0)
    assert [e["id"] for e in ready] == [1, 9] and since is None
