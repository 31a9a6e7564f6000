"""`sluice devnet`: the whole stack on one machine with embedded defaults.

For now the stack is a regtest bitcoind with a mature wallet and a dev sidechain node (its
JSON-RPC, Bridge and USDT predeployed, funded demo accounts); the federation and the API join it
as they land. Everything lives in one work directory, which survives a restart, each process
logs to `logs/<name>.log` there, and `devnet.json` tells a client every endpoint as soon as the
stack is ready.
"""

import json
import logging
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address

from regtest.binaries import Binaries
from regtest.node import WALLET, BitcoindNode
from sidechain.contracts import load_artifact
from sidechain.datadir import STORE_DIR, init_dev
from sidechain.genesis import DEV_ACCOUNTS_FILE
from sidechain.predeploys import BRIDGE_ADDRESS, USDT_ADDRESS
from sluice.processes import ManagedProcess, answers_json_rpc, json_rpc, sluice_command

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DevnetSettings:
    workdir: Path
    bitcoind_rpc_port: int = 18443
    node_rpc_port: int = 8545


class Devnet:
    """Starts the stack's processes in order and stops them in reverse."""

    def __init__(self, settings: DevnetSettings, binaries: Binaries) -> None:
        self.settings = settings
        self.bitcoind = BitcoindNode(
            settings.workdir / "bitcoind", binaries, rpc_port=settings.bitcoind_rpc_port
        )
        self.node_datadir = settings.workdir / "node"
        self.node_rpc_url = f"http://127.0.0.1:{settings.node_rpc_port}"
        self.node = ManagedProcess(
            "node",
            sluice_command(
                "node",
                "run",
                "--datadir",
                str(self.node_datadir),
                "--rpc-port",
                str(settings.node_rpc_port),
            ),
            settings.workdir / "logs" / "node.log",
        )

    @property
    def manifest_path(self) -> Path:
        return self.settings.workdir / "devnet.json"

    def start(self) -> None:
        self.settings.workdir.mkdir(parents=True, exist_ok=True)
        self.manifest_path.unlink(missing_ok=True)
        self.bitcoind.start()
        self.bitcoind.mine_to_maturity()
        if not (self.node_datadir / STORE_DIR).exists():
            init_dev(self.node_datadir)
        self.node.start(answers_json_rpc(self.node_rpc_url))
        self._write_manifest()

    def stop(self) -> None:
        """In reverse order of start; each part is stopped even if another fails."""
        try:
            self.node.stop()
        finally:
            self.bitcoind.stop()

    def status(self) -> dict[str, Any]:
        height, tip = self.bitcoind.tip()
        return {
            "bitcoind": {
                "rpc_url": self.bitcoind.rpc_url,
                "height": height,
                "tip": tip,
                "wallet_balance_btc": str(self.bitcoind.getbalance()),
            },
            "node": {
                "rpc_url": self.node_rpc_url,
                "chain_id": int(json_rpc(self.node_rpc_url, "eth_chainId"), 16),
                "height": int(json_rpc(self.node_rpc_url, "eth_blockNumber"), 16),
            },
        }

    def _write_manifest(self) -> None:
        """Written last and atomically, so a reader that sees it can use every endpoint."""
        manifest = {
            "bitcoind": {
                "rpc_url": self.bitcoind.rpc_url,
                "rpc_user": self.bitcoind.rpc_user,
                "rpc_password": self.bitcoind.rpc_password,
                "cookie_file": str(self.bitcoind.cookie_file),
                "wallet": WALLET,
                "network": "regtest",
            },
            "node": {
                "rpc_url": self.node_rpc_url,
                "chain_id": int(json_rpc(self.node_rpc_url, "eth_chainId"), 16),
            },
            "contracts": {
                name: {"address": to_checksum_address(address), "abi": load_artifact(name).abi}
                for name, address in (("Bridge", BRIDGE_ADDRESS), ("USDT", USDT_ADDRESS))
            },
            "demo_accounts": json.loads((self.node_datadir / DEV_ACCOUNTS_FILE).read_text()),
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
