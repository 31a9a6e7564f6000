"""`sluice api` as a child process (tests, benchmarks): started, probed until healthy, stopped."""

import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sluice.processes import ManagedProcess, sluice_command


@contextmanager
def serving(config_file: Path, port: int, log_path: Path) -> Iterator[str]:
    """`sluice api --config FILE` (the file sets `api.port = port`) until the block ends;
    yields its base URL once /healthz answers."""
    url = f"http://127.0.0.1:{port}"
    process = ManagedProcess("api", sluice_command("api", "--config", str(config_file)), log_path)
    process.start(_answers_healthz(url))
    try:
        yield url
    finally:
        process.stop()


def _answers_healthz(url: str) -> Callable[[], bool]:
    """A readiness probe: GET `url`/healthz answers 200 (the server is up, its ledger too)."""

    def probe() -> bool:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1.0) as response:
                return bool(response.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    return probe
