"""`sluice devnet`: the whole stack on one machine with embedded defaults.

For now the stack is a regtest bitcoind with a mature wallet; the sidechain node, the federation
and the API join it as they land. Everything lives in one work directory, which survives a
restart, and `devnet.json` there tells a client every endpoint as soon as the stack is ready.
"""

import json
import logging
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regtest.binaries import Binaries
from regtest.node import BitcoindNode

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DevnetSettings:
    workdir: Path
    bitcoind_rpc_port: int = 18443


class Devnet:
    """Starts the stack's processes in order and stops them in reverse."""

    def __init__(self, settings: DevnetSettings, binaries: Binaries) -> None:
        self.settings = settings
        self.bitcoind = BitcoindNode(
            settings.workdir / "bitcoind", binaries, rpc_port=settings.bitcoind_rpc_port
        )

    @property
    def manifest_path(self) -> Path:
        return self.settings.workdir / "devnet.json"

    def start(self) -> None:
        self.settings.workdir.mkdir(parents=True, exist_ok=True)
        self.manifest_path.unlink(missing_ok=True)
        self.bitcoind.start()
        self.bitcoind.mine_to_maturity()
        self._write_manifest()

    def stop(self) -> None:
        self.bitcoind.stop()

    def status(self) -> dict[str, Any]:
        height, tip = self.bitcoind.tip()
        return {
            "bitcoind": {
                "rpc_url": self.bitcoind.rpc_url,
                "height": height,
                "tip": tip,
                "wallet_balance_btc": str(self.bitcoind.getbalance()),
            }
        }

    def _write_manifest(self) -> None:
        """Written last and atomically, so a reader that sees it can use every endpoint."""
        manifest = {
            "bitcoind": {
                "rpc_url": self.bitcoind.rpc_url,
                "rpc_user": self.bitcoind.rpc_user,
                "rpc_password": self.bitcoind.rpc_password,
                "cookie_file": str(self.bitcoind.cookie_file),
                "wallet": "sluice",
                "network": "regtest",
            }
        }
        partial = self.manifest_path.with_suffix(".json.partial")
        partial.write_text(json.dumps(manifest, indent=2) + "\n")
        partial.chmod(0o600)
        partial.replace(self.manifest_path)


def run_until_interrupted(devnet: Devnet, wait: bool = True) -> None:
    """Start, print the status, then wait for Ctrl-C or SIGTERM and stop cleanly."""
    stop_requested = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop_requested.set())
    try:
        devnet.start()
        print(json.dumps(devnet.status(), indent=2), flush=True)
        log.info("devnet ready; endpoints in %s", devnet.manifest_path)
        if wait:
            log.info("press Ctrl-C to stop")
            stop_requested.wait()
    finally:
        devnet.stop()
