"""Helpers the API tests share: a test config, a served app, GET as JSON, the test federation."""

from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from coincurve import PrivateKey

from regtest.util import free_port
from relayer.api import build_app
from sluice.config import ApiConfig, BitcoinConfig, BridgeConfig, Config, LedgerConfig

ADMIN_TOKEN = "test-admin-token-7f3a"
FEDERATION_SECRETS = [bytes([n]) * 32 for n in (1, 2, 3)]
FEDERATION_KEYS = tuple(PrivateKey(s).public_key.format().hex() for s in FEDERATION_SECRETS)


def unreachable_url() -> str:
    """A loopback URL where nothing listens: connections are refused at once."""
    return f"http://127.0.0.1:{free_port()}"


def make_config(ledger_url: str, **api: object) -> Config:
    return Config(
        bitcoin=BitcoinConfig(rpc_url=unreachable_url(), confirmations=6),
        ledger=LedgerConfig(url=ledger_url),
        bridge=BridgeConfig(federation_pubkeys=FEDERATION_KEYS, threshold=2),
        api=ApiConfig(
            node_rpc_url=unreachable_url(),
            admin_token=ADMIN_TOKEN,
            rate_limit_per_minute=100_000,
            **api,  # type: ignore[arg-type]
        ),
    )


async def get_json(client: TestClient, path: str) -> tuple[int, Any]:
    """GET `path`: the status and the decoded JSON body."""
    response = await client.get(path)
    return response.status, await response.json()


async def serve(config: Config) -> TestClient:
    client = TestClient(TestServer(build_app(config), host="127.0.0.1"))
    await client.start_server()
    return client
