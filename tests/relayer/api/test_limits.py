"""What guards every request: body size, rate limit, CORS, one error shape, no secrets."""

from dataclasses import replace

from relayer.api.ratelimit import RateLimiter
from tests.relayer.api.support import ADMIN_TOKEN, serve

RECIPIENT = "0x" + "44" * 20


async def chunks(parts):
    """A body sent chunked: no Content-Length, so only reading it can find its size."""
    for part in parts:
        yield part


async def test_body_over_the_limit_is_413_before_it_is_read(with_config):
    client = await serve(with_config(max_body_bytes=100))
    try:
        big = {"evm_address": RECIPIENT, "refund_pubkey": "02" + "ab" * 200}
        response = await client.post("/v1/deposit-addresses", json=big)
        body = await response.json()
        chunked = await client.post(
            "/v1/deposit-addresses",
            data=chunks([b'{"evm_address": "', b"x" * 200, b'"}']),
            headers={"Content-Type": "application/json"},
        )
    finally:
        await client.close()
    assert response.status == 413 and body["error"]["code"] == "payload_too_large"
    assert "at most 100 bytes" in body["error"]["message"]
    assert chunked.status == 413


async def test_rate_limit_answers_429_with_retry_after(with_config):
    client = await serve(with_config(rate_limit_per_minute=3))
    try:
        statuses = [(await client.get("/v1/deposits")).status for _ in range(3)]
        limited = await client.get("/v1/deposits")
        body = await limited.json()
        health = await client.get("/healthz")
    finally:
        await client.close()
    assert statuses == [200, 200, 200]
    assert limited.status == 429 and body["error"]["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1
    assert health.status == 200  # probes are not limited


def test_rate_limiter_refills_per_client():
    now = [0.0]
    limiter = RateLimiter(60, clock=lambda: now[0])
    assert all(limiter.take("a") is None for _ in range(60))
    assert limiter.take("a") == 1
    assert limiter.take("b") is None
    now[0] += 1.0
    assert limiter.take("a") is None and limiter.take("a") == 1


async def test_cors_allows_only_configured_origins(with_config):
    client = await serve(with_config(cors_origins=("https://ui.example",)))
    try:
        allowed = await client.get("/v1/status", headers={"Origin": "https://ui.example"})
        other = await client.get("/v1/status", headers={"Origin": "https://evil.example"})
        preflight = await client.options(
            "/v1/deposit-addresses",
            headers={"Origin": "https://ui.example", "Access-Control-Request-Method": "POST"},
        )
        refused = await client.options(
            "/v1/deposit-addresses",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        refused_body = await refused.json()
    finally:
        await client.close()
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://ui.example"
    assert "Access-Control-Allow-Origin" not in other.headers
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://ui.example"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert refused.status == 403 and refused_body["error"]["code"] == "origin_not_allowed"


async def test_cors_is_off_by_default(api_client):
    response = await api_client.get("/v1/status", headers={"Origin": "https://ui.example"})
    assert "Access-Control-Allow-Origin" not in response.headers


async def test_unknown_route_and_wrong_method_use_the_error_shape(api_client):
    missing = await api_client.get("/v2/nothing")
    wrong = await api_client.delete("/v1/deposits")
    assert missing.status == 404 and (await missing.json())["error"]["code"] == "not_found"
    assert wrong.status == 405 and (await wrong.json())["error"]["code"] == "method_not_allowed"


async def test_no_response_contains_a_secret(config):
    secret_config = replace(
        config,
        bitcoin=replace(config.bitcoin, rpc_user="rpcuser", rpc_password="s3cret-rpc-pass"),
    )
    client = await serve(secret_config)
    texts = []
    try:
        for path in (
            "/v1/status",
            "/v1/fees",
            "/v1/contracts",
            "/metrics",
            "/v1/openapi.json",
            "/",
        ):
            texts.append(await (await client.get(path)).text())
        texts.append(
            await (
                await client.post("/v1/admin/pause", headers={"Authorization": "Bearer guess"})
            ).text()
        )
    finally:
        await client.close()
    for text in texts:
        assert "s3cret-rpc-pass" not in text and ADMIN_TOKEN not in text


async def test_unexpected_failure_is_a_500_that_says_nothing_inside(api_client, monkeypatch):
    from relayer.api.routes import deposits

    def explode(*args):
        raise RuntimeError("password=hunter2 leaked from somewhere")

    monkeypatch.setattr(deposits, "_addresses", explode)
    response = await api_client.get("/v1/deposits")
    body = await response.json()
    assert response.status == 500 and body["error"]["code"] == "internal_error"
    assert "hunter2" not in body["error"]["message"]
