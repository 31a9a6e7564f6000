"""Admin pause/resume: bearer token required, state kept in the ledger and audited."""

from dataclasses import replace

from bridge.ledger import Ledger
from tests.relayer.api.support import ADMIN_TOKEN, serve

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
RECIPIENT = "0x" + "11" * 20


async def test_pause_and_resume_are_stored_audited_and_shown_in_status(api_client, write):
    response = await api_client.post(
        "/v1/admin/pause", json={"reason": "reorg drill"}, headers=AUTH
    )
    body = await response.json()
    assert response.status == 200 and body["paused"] is True and body["reason"] == "reorg drill"
    status = await (await api_client.get("/v1/status")).json()
    assert status["paused"] is True and status["pause_reason"] == "reorg drill"
    assert all("pause" not in cursor["name"] for cursor in status["relayer"]["cursors"])
    refused = await api_client.post("/v1/deposit-addresses", json={"evm_address": RECIPIENT})
    assert refused.status == 503 and (await refused.json())["error"]["code"] == "bridge_paused"

    response = await api_client.post("/v1/admin/resume", headers=AUTH)
    assert response.status == 200 and (await response.json())["paused"] is False
    status = await (await api_client.get("/v1/status")).json()
    assert status["paused"] is False and status["pause_reason"] is None
    made = await api_client.post("/v1/deposit-addresses", json={"evm_address": RECIPIENT})
    assert made.status == 201

    def history(ledger: Ledger):
        return [entry.action for entry in ledger.audit.for_record("bridge", "bridge")]

    assert write(history) == ["paused", "resumed"]


async def test_wrong_or_missing_token_is_401_and_never_echoed(api_client):
    for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": ADMIN_TOKEN}):
        response = await api_client.post("/v1/admin/pause", headers=headers)
        text = await response.text()
        assert response.status == 401, headers
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert (await response.json())["error"]["code"] == "unauthorized"
        assert "wrong-token" not in text and ADMIN_TOKEN not in text


async def test_admin_is_disabled_without_a_configured_token(config):
    client = await serve(replace(config, api=replace(config.api, admin_token=None)))
    try:
        response = await client.post("/v1/admin/resume", headers=AUTH)
        body = await response.json()
    finally:
        await client.close()
    assert response.status == 403 and body["error"]["code"] == "admin_disabled"


async def test_pause_body_is_validated(api_client):
    for body, field in (
        ({"reason": 7}, "reason"),
        ({"reason": "x" * 201}, "reason"),
        ({"why": "x"}, "why"),
    ):
        response = await api_client.post("/v1/admin/pause", json=body, headers=AUTH)
        assert response.status == 400 and (await response.json())["error"]["field"] == field
    response = await api_client.post("/v1/admin/resume", json={"now": True}, headers=AUTH)
    assert response.status == 400
