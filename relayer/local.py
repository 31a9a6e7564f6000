"""A federation on one machine: a sidechain node and n `sluice relayer run` processes over a
regtest bitcoind, each member with its own keys, config, SQLite ledger and log; with
`watchers`, a `sluice watcher run` per member (voting with the member's key, not challenging)
and an independent challenger (its own key, given gas at genesis), each with its own state.

`sluice devnet`, the tests (relayer.testing) and the benchmarks run it:

    federation = LocalFederation(workdir, bitcoind, FederationSettings(confirmations=2))
    federation.start()                    # node, then every relayer
    federation.start_watchers()           # with `watchers`: after what they watch
    address = federation.register_address(recipient)   # every member learns the address
    ... pay it, mine ...
    federation.stop()                     # watchers, relayers in reverse, then the node

The first `LocalFederation` in a work directory writes the federation (`sluice federation
init`'s files) and the node's data directory; a later one over the same directory keeps the
keys, the ledgers and the chain, and writes the members' configs again from its settings (the
bitcoind password, ports and settings may change between runs).
"""

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bridge.bitcoin.deposit_script import DepositScript
from bridge.bitcoin.omni.payload import MAINNET_USDT
from bridge.ledger import Ledger, create_ledger_engine, ledger_sessions, upgrade_ledger
from regtest.node import BitcoindNode
from regtest.util import free_port, port_is_free
from relayer.federation import FederationPlan, init_federation, open_federation, watcher_config
from relayer.keys import MemberKeys, load_account, replace_private_file, write_private_file
from relayer.vault import VaultSettings
from relayer.watcher.state import STATE_FILE
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
WATCHER_STARTUP_S = 120.0
CHALLENGER = "challenger"


@dataclass(frozen=True)
class FederationSettings:
    members: int = 3
    threshold: int = 2
    confirmations: int = 2
    poll_interval: float = 0.2
    resubmit_after: float = 2.0
    usdt_property_id: int = MAINNET_USDT
    scan_start_height: int = 0
    challenge_window_blocks: int = 2
    vault: VaultConfig = field(default_factory=VaultConfig)
    node_rpc_port: int = 0  # 0: a free port
    signing_port_base: int = 0  # 0: a free port (member i listens on base + i)
    watchers: bool = False


def free_ports(count: int, attempts: int = 50) -> int:
    """A base port b such that b+1 .. b+count were all free a moment ago (member i signs on
    b+i)."""
    for _ in range(attempts):
        base = free_port()
        if base + count <= 65535 and all(port_is_free(base + i) for i in range(1, count + 1)):
            return base
    raise OSError(f"no {count} free consecutive ports found in {attempts} attempts")


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


class WatcherProcess(ManagedProcess):
    """One `sluice watcher run` child; started, it is ready once it wrote its state file."""

    def __init__(
        self, name: str, config: Path, log_path: Path, datadir: Path, address: str, challenge: bool
    ) -> None:
        command = sluice_command("watcher", "run", "--config", str(config))
        super().__init__(f"watcher {name}", command, log_path)
        self.config_path = config
        self.datadir = datadir
        self.address = address  # its account: a member's (an operator's vote) or its own
        self.challenge = challenge

    @property
    def state_path(self) -> Path:
        return self.datadir / STATE_FILE

    def start(  # type: ignore[override]
        self, crash_at: str | None = None
    ) -> None:
        if crash_at:
            super().start(extra_env={"SLUICE_WATCHER_CRASH_AT": crash_at})
        else:
            super().start(self.state_path.exists, WATCHER_STARTUP_S)


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
        self.challenger_key = workdir / "watchers" / CHALLENGER / "key.json"
        # Once the challenger exists, genesis.toml keeps funding it: it must stay the chain's.
        with_challenger = settings.watchers or self.challenger_key.exists()
        funded = (challenger_account(self.challenger_key).address,) if with_challenger else ()
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
            funded_accounts=funded,
        )
        existing = (self.plan.directory / "federation.json").exists()
        self.keys: list[MemberKeys] = (
            open_federation(self.plan) if existing else init_federation(self.plan)
        )
        self.node_datadir = workdir / "node"
        # The genesis the node was made from (genesis.toml is written anew at each opening).
        self.genesis_file = workdir / "node-genesis.toml"
        if not (self.node_datadir / STORE_DIR).exists():
            genesis = self.plan.directory / "genesis.toml"
            subprocess.run(
                sluice_command(
                    "node", "init", "--genesis", str(genesis), "--datadir", str(self.node_datadir)
                ),
                check=True,
                capture_output=True,
            )
            shutil.copyfile(genesis, self.genesis_file)
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
        self.watchers = self._watchers() if settings.watchers else []
        self.engines: list[Engine] = []
        for keys in self.keys:
            engine = create_ledger_engine(self.ledger_url(keys.member_id))
            upgrade_ledger(engine)
            self.engines.append(engine)

    def _watchers(self) -> list[WatcherProcess]:
        """A watcher per member (its keys file: it votes as that operator) and the challenger."""
        chosen = [
            (f"member-{k.member_id}", self.member_dir(k.member_id) / "keys.json", k.address, False)
            for k in self.keys
        ]
        challenger = challenger_account(self.challenger_key).address
        chosen.append((CHALLENGER, self.challenger_key, challenger, True))
        watchers = []
        for name, key_file, address, challenge in chosen:
            datadir = self.workdir / "watchers" / name
            datadir.mkdir(parents=True, exist_ok=True)
            config = datadir / "watcher.toml"
            text = watcher_config(
                self.plan, self.keys, self.genesis_file, datadir, key_file, challenge
            )
            replace_private_file(config, text)
            log_path = self.logs / f"watcher-{name}.log"
            watchers.append(WatcherProcess(name, config, log_path, datadir, address, challenge))
        return watchers

    def watcher(self, name: str) -> WatcherProcess:
        (found,) = (w for w in self.watchers if w.name == f"watcher {name}")
        return found

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
        """The node (once it answers), then every relayer (the watchers: `start_watchers`)."""
        self.node.start(answers_json_rpc(self.node_url), timeout=NODE_STARTUP_S)
        for relayer in self.relayers:
            relayer.start()

    def start_watchers(self) -> None:
        for watcher in self.watchers:
            watcher.start()

    def stop(self) -> None:
        """Watchers and relayers in reverse order, then the node; each is stopped even if one
        fails."""
        try:
            for process in reversed((*self.relayers, *self.watchers)):
                process.stop()
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


def challenger_account(key_file: Path) -> LocalAccount:
    """The challenger watcher's account: its key file, written (0600) the first time."""
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        account = Account.create()
        body = {"address": account.address, "evm_private_key": "0x" + bytes(account.key).hex()}
        write_private_file(key_file, json.dumps(body, indent=2) + "\n")
    return load_account(key_file, None, "challenger ")
