"""/healthz, /metrics, /v1/openapi.json (a valid OpenAPI 3.1 document covering every route)."""

import pytest
from openapi_spec_validator import validate

from relayer.api.app import build_app
from relayer.api.errors import LedgerNotMigrated
from relayer.api.openapi import openapi_document
from tests.relayer.api.support import make_config, serve


async def test_healthz_answers_when_the_ledger_does(api_client):
    response = await api_client.get("/healthz")
    assert response.status == 200 and await response.json() == {"status": "ok"}


async def test_healthz_is_503_when_the_ledger_is_gone(tmp_path):
    client = await serve(make_config(f"sqlite:///{tmp_path}/missing/dir/ledger.sqlite3"))
    try:
        response = await client.get("/healthz")
        body = await response.json()
    finally:
        await client.close()
    assert response.status == 503 and body["error"]["code"] == "ledger_unavailable"


async def test_metrics_count_requests_by_route_template(api_client):
    await api_client.get(f"/v1/deposits/{'ab' * 32}:0")
    await api_client.get(f"/v1/deposits/{'cd' * 32}:1")
    await api_client.get("/no/such/path")
    response = await api_client.get("/metrics")
    text = await response.text()
    assert response.status == 200 and response.content_type == "text/plain"
    assert (
        'sluice_api_requests_total{method="GET",route="/v1/deposits/{deposit_id}",status="404"} 2'
        in text
    )
    assert 'route="unmatched",status="404"' in text
    assert (
        'sluice_api_request_duration_seconds_bucket{route="/v1/deposits/{deposit_id}",le="+Inf"} 2'
        in text
    )
    assert "sluice_bridge_paused 0" in text
    assert "ab" * 32 not in text


def test_openapi_document_is_valid_3_1():
    document = openapi_document()
    validate(document)
    assert document["openapi"] == "3.1.0"


def test_openapi_describes_every_route_and_method(ledger_url):
    app = build_app(make_config(ledger_url))
    routed = {
        (route.resource.canonical, route.method.lower())
        for route in app.router.routes()
        if route.method != "HEAD" and not route.resource.canonical.startswith("/static")
    }
    documented = {
        (path, method) for path, item in openapi_document()["paths"].items() for method in item
    }
    assert routed == documented
    for path, item in openapi_document()["paths"].items():
        for method, operation in item.items():
            assert "200" in operation["responses"] or "201" in operation["responses"], path
            assert "400" in operation["responses"], (path, method)


async def test_openapi_is_served(api_client):
    response = await api_client.get("/v1/openapi.json")
    assert response.status == 200 and (await response.json())["openapi"] == "3.1.0"


async def test_api_refuses_to_start_over_a_ledger_never_migrated(tmp_path):
    config = make_config(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    with pytest.raises(LedgerNotMigrated, match="sluice db upgrade"):
        await serve(config)
