"""Helpers the API tests share: a test config, a served app, ports, the test federation."""

import socket
import subprocess
import time
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from coincurve import PrivateKey
from yarl import URL

from relayer.api import build_app
from sluice.config import ApiConfig, BitcoinConfig, BridgeConfig, Config, LedgerConfig

ADMIN_TOKEN = "test-admin-token-7f3a"
REPO = Path(__file__).resolve().parents[3]
FEDERATION_SECRETS = [bytes([n]) * 32 for n in (1, 2, 3)]
FEDERATION_KEYS = tuple(PrivateKey(s).public_key.format().hex() for s in FEDERATION_SECRETS)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


async def serve(config: Config) -> TestClient:
    client = TestClient(TestServer(build_app(config), host="127.0.0.1"))
    await client.start_server()
    return client


def wait_for_port(url: str, process: subprocess.Popen[bytes]) -> None:
    """Until something accepts connections at `url` (the process must stay alive meanwhile)."""
    target = URL(url)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, f"process serving {url} exited with {process.returncode}"
        try:
            with socket.create_connection((str(target.host), int(target.port or 80)), 0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens at {url} after 60 s")
