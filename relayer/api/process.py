"""`sluice api` as a child process (tests, benchmarks): its command and its readiness probe."""

import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from sluice.processes import ManagedProcess, sluice_command


def api_process(config_file: Path, log_path: Path) -> ManagedProcess:
    """`sluice api --config FILE`, logging to `log_path`; start it with `answers_healthz`."""
    return ManagedProcess("api", sluice_command("api", "--config", str(config_file)), log_path)


def answers_healthz(url: str) -> Callable[[], bool]:
    """A readiness probe: GET `url`/healthz answers 200 (the server is up, its ledger too)."""

    def probe() -> bool:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1.0) as response:
                return bool(response.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    return probe
