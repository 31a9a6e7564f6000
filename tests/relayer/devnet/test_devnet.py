"""`sluice devnet` as a user runs it: started as a process, used through devnet.json (a deposit
on regtest to an address the API hands out, its mint seen with web3.py and judged by the
watchers, a withdrawal with web3.py released on Bitcoin), stopped with Ctrl-C, started again
with its state kept."""

import base64
import json
import os
import signal
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from web3 import Web3

from bridge.bitcoin.blocks import to_sats
from bridge.ledger import Asset, Ledger, create_ledger_engine, ledger_sessions
from regtest.util import free_port, wait_until
from relayer.local import free_ports
from sluice.processes import sluice_command
from tests.relayer.support import RELEASED, Bridge

pytestmark = pytest.mark.xdist_group("relayer-devnet")
STARTUP_S = 300.0
DEPOSIT_SATS = 2_000_000
WITHDRAWAL_SATS = 600_000


class Devnet:
    """A `sluice devnet` process and what its devnet.json says."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        ports = [free_port() for _ in range(3)]
        self.command = sluice_command(
            "devnet",
            "--workdir",
            str(workdir),
            "--bitcoind-rpc-port",
            str(ports[0]),
            "--node-rpc-port",
            str(ports[1]),
            "--api-port",
            str(ports[2]),
            "--signing-port-base",
            str(free_ports(3)),
            "--block-seconds",
            "1",
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.manifest: dict[str, Any] = {}

    def start(self) -> None:
        with (self.workdir.parent / "devnet.out").open("ab") as out:
            self.process = subprocess.Popen(self.command, stdout=out, stderr=subprocess.STDOUT)
        path = self.workdir / "devnet.json"
        wait_until(lambda: path.exists() or self.process.poll() is not None, STARTUP_S)
        assert self.process.poll() is None, self.output()
        self.manifest = json.loads(path.read_text())
        assert path.stat().st_mode & 0o777 == 0o600  # RPC password and demo keys inside

    def interrupt(self, signum: int = signal.SIGINT) -> int:
        """Ctrl-C (or SIGTERM); the exit status."""
        assert self.process is not None
        self.process.send_signal(signum)
        return self.process.wait(120)

    def output(self) -> str:
        return (self.workdir.parent / "devnet.out").read_text(errors="replace")

    def bitcoin(self, method: str, *params: Any) -> Any:
        """bitcoind's RPC (its wallet) with devnet.json's credentials."""
        node = self.manifest["bitcoind"]
        token = base64.b64encode(f"{node['rpc_user']}:{node['rpc_password']}".encode()).decode()
        body = json.dumps({"jsonrpc": "1.0", "id": 1, "method": method, "params": params})
        request = urllib.request.Request(
            f"{node['rpc_url']}/wallet/{node['wallet']}",
            body.encode(),
            {"Authorization": f"Basic {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as reply:
            return json.loads(reply.read())["result"]

    def api(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            self.manifest["api"]["url"] + path,
            json.dumps(body).encode(),
            {"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as reply:
            return dict(json.loads(reply.read()))

    def bridge(self) -> Bridge:
        contracts = self.manifest["contracts"]
        assert contracts["Bridge"]["abi"] and contracts["USDT"]["address"]
        w3 = Web3(Web3.HTTPProvider(self.manifest["node"]["rpc_url"]))
        assert w3.eth.chain_id == self.manifest["node"]["chain_id"]
        return Bridge(w3)

    def known_to_every_member(self, address: str) -> bool:
        """Every member's ledger holds the deposit address (the API wrote it to member 1's;
        the others learn it from that member)."""
        for config in self.manifest["federation"]["member_configs"]:
            url = f"sqlite:///{Path(config).parent / 'ledger.sqlite3'}"
            engine = create_ledger_engine(url)
            try:
                with ledger_sessions(engine)() as session:
                    if Ledger(session).deposit_addresses.get(address) is None:
                        return False
            finally:
                engine.dispose()
        return True

    def child_pids(self) -> list[int]:
        """The processes the devnet started (they say `ready (pid N`), and bitcoind's."""
        pids = [
            int(line.split("(pid ")[1].split(",")[0])
            for line in self.output().splitlines()
            if " ready (pid " in line
        ]
        pid_file = self.workdir / "bitcoind" / "regtest" / "bitcoind.pid"
        return pids + ([int(pid_file.read_text())] if pid_file.exists() else [])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.timeout(900)
def test_a_user_deposits_withdraws_stops_and_restarts_the_devnet(tmp_path: Path) -> None:
    devnet = Devnet(tmp_path / "devnet")
    devnet.start()
    manifest = devnet.manifest
    for key in ("bitcoind", "node", "api", "contracts", "federation", "demo_accounts", "logs"):
        assert key in manifest, key
    assert manifest["federation"]["threshold"] == 2 and len(manifest["federation"]["members"]) == 3
    assert all(Path(path).exists() for path in manifest["logs"].values())
    watchers = manifest["watchers"]
    operators = {member["evm_address"] for member in manifest["federation"]["members"]}
    assert {w["account"] for w in watchers if not w["challenges"]} == operators
    (challenger,) = (w for w in watchers if w["challenges"])
    assert all(Path(w["state_file"]).exists() for w in watchers)
    bridge = devnet.bridge()
    demo = manifest["demo_accounts"][0]
    assert (
        bridge.balance_sats(demo["evm_address"]) > 0
        and bridge.usdt_balance(demo["evm_address"]) > 0
    )
    assert to_sats(devnet.bitcoin("getreceivedbyaddress", demo["bitcoin_address"], 0)) > 0

    # A deposit on regtest to an address from the API, mined, minted on the sidechain.
    user = Account.create()
    address = devnet.api("/v1/deposit-addresses", {"evm_address": user.address})["address"]
    wait_until(lambda: devnet.known_to_every_member(address), 60)
    txid = devnet.bitcoin("sendtoaddress", address, f"{DEPOSIT_SATS / 10**8:.8f}")
    devnet.bitcoin("generatetoaddress", 2, devnet.bitcoin("getnewaddress"))
    wait_until(lambda: bridge.balance_sats(user.address) == DEPOSIT_SATS, 120)
    # The challenger watcher checked the deposit's claim against its bitcoind: it holds.
    log = Path(manifest["logs"][challenger["name"].replace(" ", "-")])
    wait_until(lambda: f"holds: deposit {txid}:" in log.read_text(), 120)

    # A withdrawal with web3.py, released on Bitcoin.
    payee = devnet.bitcoin("getnewaddress")
    withdrawal = bridge.withdraw(user, Asset.BTC, WITHDRAWAL_SATS, payee)
    payout = bridge.payout(withdrawal)
    wait_until(lambda: to_sats(devnet.bitcoin("getreceivedbyaddress", payee, 1)) == payout, 180)
    wait_until(lambda: bridge.status(withdrawal)[0] == RELEASED, 180)
    released_in = bridge.status(withdrawal)[1]
    balance = bridge.balance_sats(user.address)
    assert DEPOSIT_SATS - WITHDRAWAL_SATS - balance < 100_000  # less the gas of the withdraw

    # Ctrl-C: everything stops, in reverse, and nothing is left running.
    children = devnet.child_pids()
    assert len(children) >= 10  # bitcoind, node, three relayers, four watchers, the API
    assert devnet.interrupt(signal.SIGINT) == 0
    assert not [pid for pid in children if alive(pid)], devnet.output()[-3000:]
    assert not (devnet.workdir / "devnet.json").exists()

    # Started again over the same work directory: the state is still there.
    devnet.start()
    again = devnet.bridge()
    assert devnet.manifest["demo_accounts"] == manifest["demo_accounts"]
    assert again.balance_sats(user.address) == balance
    assert again.status(withdrawal) == (RELEASED, released_in)
    assert to_sats(devnet.bitcoin("getreceivedbyaddress", payee, 1)) == payout
    assert devnet.interrupt(signal.SIGTERM) == 0
    assert not [pid for pid in devnet.child_pids() if alive(pid)]
