"""Test and bench support: a local federation (a node, n relayer processes) over a regtest bitcoind.

    federation = LocalFederation(workdir, bitcoind, FederationSettings(confirmations=2))
    federation.start()                    # node + every relayer, each its own ledger and log
    address = federation.register_address(recipient)   # every member learns the address
    ... pay it, mine ...
    federation.wait_until(lambda: federation.minted_count() == 1)
    federation.stop()

Relayers are `sluice relayer run` subprocesses; settings a test varies (poll interval, scan
start, crash point) reach them as SLUICE_* variables, the way an operator would set them.
"""

import os
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from eth_abi import encode
from eth_utils import keccak
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bridge.bitcoin.deposit_script import DepositScript
from bridge.ledger import (
    Deposit,
    DepositStatus,
    Ledger,
    create_ledger_engine,
    ledger_sessions,
    upgrade_ledger,
)
from regtest.node import BitcoindNode
from regtest.util import free_port, wait_until
from relayer.federation import FederationPlan, init_federation
from relayer.keys import MemberKeys
from relayer.node_client import Deposited, decode_bridge_log
from sidechain.predeploys import BRIDGE_ADDRESS, USDT_ADDRESS
from sluice.processes import ManagedProcess, answers_json_rpc, json_rpc, sluice_command


@dataclass(frozen=True)
class FederationSettings:
    members: int = 3
    threshold: int = 2
    confirmations: int = 2
    poll_interval: float = 0.2
    resubmit_after: float = 2.0
    usdt_property_id: int = 31
    scan_start_height: int = 0


class RelayerProcess(ManagedProcess):
    """One `sluice relayer run` child: start (optionally with a crash point), stop, kill -9."""

    def __init__(self, member_id: int, config: Path, env: Mapping[str, str]) -> None:
        command = sluice_command("relayer", "run", "--config", str(config))
        super().__init__(f"relayer {member_id}", command, config.parent / "relayer.log", env)
        self.member_id = member_id

    def start(  # type: ignore[override]
        self, crash_at: str | None = None
    ) -> None:
        super().start(extra_env={"SLUICE_RELAYER_CRASH_AT": crash_at} if crash_at else None)


class LocalFederation:
    """A sidechain node and a federation of relayer processes over `bitcoind`, in `workdir`."""

    def __init__(self, workdir: Path, bitcoind: BitcoindNode, settings: FederationSettings) -> None:
        self.workdir = workdir
        self.bitcoind = bitcoind
        self.settings = settings
        self.node_url = f"http://127.0.0.1:{free_port()}"
        plan = FederationPlan(
            directory=workdir / "federation",
            members=settings.members,
            threshold=settings.threshold,
            signing_port_base=free_port(),
            bitcoin_rpc_url=bitcoind.rpc_url,
            bitcoin_rpc_user=bitcoind.rpc_user,
            bitcoin_rpc_password=bitcoind.rpc_password,
            node_rpc_url=self.node_url,
            confirmations=settings.confirmations,
        )
        self.plan = plan
        self.keys: list[MemberKeys] = init_federation(plan)
        self.node_datadir = workdir / "node"
        subprocess.run(
            sluice_command(
                "node",
                "init",
                "--genesis",
                str(plan.directory / "genesis.toml"),
                "--datadir",
                str(self.node_datadir),
            ),
            check=True,
            capture_output=True,
        )
        port = self.node_url.rsplit(":", 1)[1]
        self.node = ManagedProcess(
            "node",
            sluice_command("node", "run", "--datadir", str(self.node_datadir), "--rpc-port", port),
            workdir / "node.log",
        )
        self.env = {
            "SLUICE_RELAYER_POLL_INTERVAL": str(settings.poll_interval),
            "SLUICE_RELAYER_RESUBMIT_AFTER": str(settings.resubmit_after),
            "SLUICE_RELAYER_SCAN_START_HEIGHT": str(settings.scan_start_height),
            "SLUICE_BRIDGE_USDT_PROPERTY_ID": str(settings.usdt_property_id),
        }
        self.relayers = [
            RelayerProcess(k.member_id, self.config_path(k.member_id), self.env) for k in self.keys
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

    def sluice(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A `sluice` command with the relayers' SLUICE_* settings (e.g. `audit --config`)."""
        return subprocess.run(
            sluice_command(*args),
            capture_output=True,
            text=True,
            env={**os.environ, **self.env},
            timeout=300,
            check=False,
        )

    def ledger_url(self, member_id: int) -> str:
        return f"sqlite:///{(self.member_dir(member_id) / 'ledger.sqlite3').resolve()}"

    def sessions(self, member_id: int) -> sessionmaker[Session]:
        return ledger_sessions(self.engines[member_id - 1])

    def relayer(self, member_id: int) -> RelayerProcess:
        return self.relayers[member_id - 1]

    # lifecycle

    def start(self) -> None:
        self.node.start(answers_json_rpc(self.node_url))
        for relayer in self.relayers:
            relayer.start()

    def stop(self) -> None:
        for relayer in self.relayers:
            relayer.stop()
        self.node.stop()
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
        return json_rpc(self.node_url, method, *params, timeout=30.0)

    def deposited_events(self) -> list[Deposited]:
        head = int(self.rpc("eth_blockNumber"), 16)
        criteria = {
            "fromBlock": "0x0",
            "toBlock": hex(head),
            "address": "0x" + BRIDGE_ADDRESS.hex(),
        }
        events = [decode_bridge_log(log) for log in self.rpc("eth_getLogs", criteria)]
        return [event for event in events if isinstance(event, Deposited)]

    def usdt_balance(self, address: str) -> int:
        data = "0x" + (keccak(text="balanceOf(address)")[:4] + encode(["address"], [address])).hex()
        call = {"to": "0x" + USDT_ADDRESS.hex(), "data": data}
        return int(self.rpc("eth_call", call, "latest"), 16)

    def balance_wei(self, address: str) -> int:
        return int(self.rpc("eth_getBalance", address, "latest"), 16)

    def statuses(self, member_id: int) -> dict[str, DepositStatus]:
        with self.sessions(member_id)() as session:
            rows = session.execute(select(Deposit.id, Deposit.status)).all()
        return {row[0]: row[1] for row in rows}

    def minted_in_ledger(self, member_id: int, deposit_ids: set[str]) -> bool:
        statuses = self.statuses(member_id)
        return all(statuses.get(i) is DepositStatus.MINTED for i in deposit_ids)

    def wait_until(self, predicate: Callable[[], object], timeout: float = 120.0) -> None:
        wait_until(predicate, timeout=timeout, poll=0.2)


def pay_btc(bitcoind: BitcoindNode, payments: Mapping[str, int]) -> str:
    """One wallet transaction paying each address its sats (sendmany); returns the txid."""
    amounts = {address: f"{Decimal(sats) / 10**8:.8f}" for address, sats in payments.items()}
    return str(bitcoind.rpc("sendmany", "", amounts))
