"""The one mapping from failures to HTTP errors, and the one error shape."""

import pytest
from aiohttp import web
from sqlalchemy.exc import DataError

from bridge.bitcoin.script_errors import InvalidThreshold
from bridge.ledger import DuplicateRecord, InvalidCursor, InvalidPageSize, RecordNotFound
from bridge.ledger.errors import InvalidEvmAddress
from relayer.api.context import METRICS
from relayer.api.errors import InvalidParameter, error_for
from relayer.api.routes.events import MAX_STREAMS


@pytest.mark.parametrize(
    ("error", "status", "code", "field"),
    [
        (RecordNotFound("deposit", "x:0"), 404, "not_found", None),
        (DuplicateRecord("deposit_address", "bcrt1q"), 500, "internal_error", None),
        (InvalidCursor("abc"), 400, "invalid_parameter", "cursor"),
        (InvalidPageSize(0, 1000), 400, "invalid_parameter", "limit"),
        (InvalidEvmAddress("sender", "0x1"), 400, "invalid_parameter", "sender"),
        (InvalidThreshold(5, 3), 400, "invalid_parameter", "body"),
        (web.HTTPForbidden(), 403, "forbidden", None),
        (web.HTTPRequestTimeout(), 408, "request_timeout", None),
        (DataError("select", {}, ValueError("out of range")), 400, "bad_request", None),
        (KeyError("secret"), 500, "internal_error", None),
    ],
)
def test_failures_map_to_one_status_and_code(error, status, code, field):
    mapped = error_for(error)
    body = mapped.body()["error"]
    assert (mapped.status, body["code"], body.get("field")) == (status, code, field)
    assert "secret" not in body["message"] or status != 500


def test_long_offending_values_are_cut_in_messages():
    error = InvalidParameter("evm_address", "0x" + "f" * 500, "must be an EVM address")
    assert len(error.message) < 200 and error.message.endswith("...")


async def test_event_streams_are_capped(api_client):
    api_client.server.app[METRICS].sse_streams = MAX_STREAMS
    response = await api_client.get("/v1/events")
    assert response.status == 503
    assert (await response.json())["error"]["code"] == "too_many_streams"
    api_client.server.app[METRICS].sse_streams = 0
