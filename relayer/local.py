"""A federation on one machine: a sidechain node and n `sluice relayer run` processes over a
regtest bitcoind, each member with its own keys, config, SQLite ledger and log.

`sluice devnet`, the tests (relayer.testing) and the benchmarks run it:

    federation = LocalFederation(workdir, bitcoind, FederationSettings(confirmations=2))
    federation.start()                    # node, then every relayer
    address = federation.register_address(recipient)   # every member learns the address
    ... pay it, mine ...
    federation.stop()                     # relayers in reverse, then the node

The first `LocalFederation` in a work directory writes the federation (`sluice federation
init`'s files) and the node's data directory; a later one over the same directory keeps the
keys, the ledgers and the chain, and writes the members' configs again from its settings (the
bitcoind password, ports and settings may change between runs).
"""

import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bridge.bitcoin.deposit_script import DepositScript
from bridge.ledger import Ledger, create_ledger_engine, ledger_sessions, upgrade_ledger
from regtest.node import BitcoindNode
from regtest.util import free_port
from relayer.federation import FederationPlan, init_federation, open_federation
from relayer.keys import MemberKeys
from relayer.vault import VaultSettings
from sidechain.datadir import STORE_DIR
from sluice.config import VaultConfig
from sluice.processes import (
    ManagedProcess,
    answers_json_rpc,
    answers_tcp,
    json_rpc,
    sluice_command,
)

NODE_STARTUP_S = 120.0
RELAYER_STARTUP_S = 120.0


@dataclass(frozen=True)
class FederationSettings:
    members: int = 3
    threshold: int = 2
    confirmations: int = 2
    poll_interval: float = 0.2
    resubmit_after: float = 2.0
    usdt_property_id: int = 31
    scan_start_height: int = 0
    challenge_window_blocks: int = 2
    vault: VaultConfig = field(default_factory=VaultConfig)
    node_rpc_port: int = 0  # 0: a free port
    signing_port_base: int = 0  # 0: a free port (member i listens on base + i)


def free_ports(count: int, attempts: int = 50) -> int:
    """A base port b such that b+1 .. b+count were all free a moment ago (member i signs on
    b+i)."""
    for _ in range(attempts):
        base = free_port()
        if base + count <= 65535 and all(_bindable(base + i) for i in range(1, count + 1)):
            return base
    raise OSError(f"no {count} free consecutive ports found in {attempts} attempts")


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class RelayerProcess(ManagedProcess):
    """One `sluice relayer run` child: start (optionally with a crash point), stop, kill -9.

    Started, it is ready once its signing server answers: its signal handlers are installed
    and its loops built. With a crash point it is not waited for (it may reach it at once).
    """

    def __init__(self, member_id: int, config: Path, log_path: Path, signing_port: int) -> None:
        command = sluice_command("relayer", "run", "--config", str(config))
        super().__init__(f"relayer {member_id}", command, log_path)
        self.member_id = member_id
        self.signing_port = signing_port

    def start(  # type: ignore[override]
        self, crash_at: str | None = None
    ) -> None:
        if crash_at:
            super().start(extra_env={"SLUICE_RELAYER_CRASH_AT": crash_at})
        else:
            super().start(answers_tcp("127.0.0.1", self.signing_port), RELAYER_STARTUP_S)


class LocalFederation:
    """A sidechain node and a federation of relayer processes over `bitcoind`, in `workdir`."""

    def __init__(
        self,
        workdir: Path,
        bitcoind: BitcoindNode,
        settings: FederationSettings,
        logs: Path | None = None,
    ) -> None:
        self.workdir = workdir
        self.bitcoind = bitcoind
        self.settings = settings
        self.logs = logs or workdir
        self.node_url = f"http://127.0.0.1:{settings.node_rpc_port or free_port()}"
        self.plan = FederationPlan(
            directory=workdir / "federation",
            members=settings.members,
            threshold=settings.threshold,
            signing_port_base=settings.signing_port_base or free_ports(settings.members),
            bitcoin_rpc_url=bitcoind.rpc_url,
            bitcoin_rpc_user=bitcoind.rpc_user,
            bitcoin_rpc_password=bitcoind.rpc_password,
            node_rpc_url=self.node_url,
            confirmations=settings.confirmations,
            usdt_property_id=settings.usdt_property_id,
            scan_start_height=settings.scan_start_height,
            challenge_window_blocks=settings.challenge_window_blocks,
            poll_interval=settings.poll_interval,
            resubmit_after=settings.resubmit_after,
            vault=settings.vault,
        )
        existing = (self.plan.directory / "federation.json").exists()
        self.keys: list[MemberKeys] = (
            open_federation(self.plan) if existing else init_federation(self.plan)
        )
        self.node_datadir = workdir / "node"
        if not (self.node_datadir / STORE_DIR).exists():
            genesis = str(self.plan.directory / "genesis.toml")
            subprocess.run(
                sluice_command(
                    "node", "init", "--genesis", genesis, "--datadir", str(self.node_datadir)
                ),
                check=True,
                capture_output=True,
            )
        port = self.node_url.rsplit(":", 1)[1]
        self.node = ManagedProcess(
            "node",
            sluice_command("node", "run", "--datadir", str(self.node_datadir), "--rpc-port", port),
            self.logs / "node.log",
        )
        self.relayers = [
            RelayerProcess(
                k.member_id,
                self.config_path(k.member_id),
                self.logs / f"relayer-{k.member_id}.log",
                self.plan.signing_port_base + k.member_id,
            )
            for k in self.keys
        ]
        self.engines: list[Engine] = []
        for keys in self.keys:
            engine = create_ledger_engine(self.ledger_url(keys.member_id))
            upgrade_ledger(engine)
            self.engines.append(engine)

    def member_dir(self, member_id: int) -> Path:
        return self.plan.directory / f"member-{member_id}"

    def config_path(self, member_id: int) -> Path:
        return self.member_dir(member_id) / "relayer.toml"

    def ledger_url(self, member_id: int) -> str:
        return f"sqlite:///{(self.member_dir(member_id) / 'ledger.sqlite3').resolve()}"

    def sessions(self, member_id: int) -> sessionmaker[Session]:
        return ledger_sessions(self.engines[member_id - 1])

    def relayer(self, member_id: int) -> RelayerProcess:
        return self.relayers[member_id - 1]

    @property
    def vault(self) -> VaultSettings:
        return VaultSettings(
            federation_keys=tuple(k.bitcoin_public for k in self.keys),
            threshold=self.settings.threshold,
            network="regtest",
            usdt_property_id=self.settings.usdt_property_id,
            policy=self.settings.vault,
        )

    # lifecycle

    def start(self) -> None:
        """The node (once it answers), then every relayer."""
        self.node.start(answers_json_rpc(self.node_url), timeout=NODE_STARTUP_S)
        for relayer in self.relayers:
            relayer.start()

    def stop(self) -> None:
        """Every relayer in reverse order, then the node; each is stopped even if one fails."""
        try:
            for relayer in reversed(self.relayers):
                relayer.stop()
        finally:
            self.node.stop()

    def close(self) -> None:
        """Stop, and release the ledger connections."""
        try:
            self.stop()
        finally:
            for engine in self.engines:
                engine.dispose()

    # the bridge

    def register_address(self, recipient: str) -> str:
        """The deposit address of `recipient`, known to every member (as the API hands it out)."""
        return self.register_addresses([recipient])[recipient]

    def register_addresses(self, recipients: list[str]) -> dict[str, str]:
        """Deposit addresses of `recipients`, added to every member's ledger in one transaction."""
        pubkeys = [k.bitcoin_public for k in self.keys]
        scripts = {r: DepositScript.create(r, pubkeys, self.settings.threshold) for r in recipients}
        for keys in self.keys:
            with self.sessions(keys.member_id).begin() as session:
                addresses = Ledger(session).deposit_addresses
                for recipient, script in scripts.items():
                    addresses.add(script.address("regtest"), script.witness_script.hex(), recipient)
        return {r: script.address("regtest") for r, script in scripts.items()}

    def rpc(self, method: str, *params: Any) -> Any:
        """One JSON-RPC call to the sidechain node."""
        return json_rpc(self.node_url, method, *params, timeout=30.0)
