"""`sluice devnet`: the whole stack on one machine, with embedded defaults.

The stack is a list of services (`SERVICES`), started in that order and stopped in reverse:

    bitcoind     a regtest bitcoind with a mature wallet and test USDT (an Omni managed
                 property, issued once)
    federation   the sidechain node and a 2-of-3 federation of `sluice relayer run` processes,
                 from the files of `sluice federation init` (relayer.local.LocalFederation)
    api          `sluice api` over member 1's ledger
    miner        a regtest block every `block_seconds`, so deposits confirm and windows close
    demo         demo accounts funded on both chains (once): BTC and test USDT on regtest at
                 their own keys (imported into the wallet), and BTC and USDT on the sidechain
                 through real bridge deposits; the fee reserve topped up at the vault

Adding a process (a watcher, an oracle pusher, a liquidator): write a `Service` (its `start`,
`stop`, its entry in devnet.json) and put it into `SERVICES` after what it needs; the devnet
starts it in that place, stops it before those, and lists its log and endpoints.

Everything lives in the work directory, which survives a restart: bitcoind's datadir, the
federation's keys, configs and ledgers, the node's chain, the demo keys, `logs/<name>.log` for
each process, and `devnet.json`, every endpoint a client needs, written atomically (mode 0600:
it holds the RPC password and the demo keys) once the stack is ready, removed when it stops.
The devnet is short: depth 2 and a 2-block challenge window, with a block every 10 s by
default, so a deposit mints within half a minute and a withdrawal is released within a minute.
"""

import hashlib
import json
import logging
import secrets
import signal
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from bitcoin.base58 import decode as base58_decode
from bitcoin.base58 import encode as base58_encode
from coincurve import PrivateKey
from eth_account import Account
from eth_utils import to_checksum_address

from bridge.bitcoin.network import Network
from bridge.ledger import Ledger
from regtest.binaries import Binaries
from regtest.node import WALLET, BitcoindNode
from regtest.omni import issue_usdt, send_usdt
from regtest.util import wait_until
from relayer.api.process import serving
from relayer.keys import replace_private_file
from relayer.local import FederationSettings, LocalFederation
from sidechain.contracts import load_artifact
from sidechain.predeploys import BRIDGE_ADDRESS, USDT_ADDRESS
from sidechain.system_tx import WEI_PER_SAT
from sluice.config import VaultConfig
from sluice.errors import SluiceError
from sluice.processes import json_rpc

log = logging.getLogger(__name__)
USDT_ISSUED = 10**17  # a billion test USDT
DEMO_BTC = Decimal("1")  # on regtest, per demo account
DEMO_USDT = 1_000 * 10**8
BRIDGED_SATS = 50_000_000  # minted on the sidechain per demo account
BRIDGED_USDT = 100 * 10**8
RESERVE_BTC = Decimal("0.1")  # the vault's fee reserve top-up
USDT_SENDS_PER_BLOCK = 10  # the issuer's sends chain through its change
FUNDING_TIMEOUT_S = 300.0


class DevnetError(SluiceError):
    """The devnet could not start (a part failed, or its work directory is not a devnet's)."""


@dataclass(frozen=True)
class DevnetSettings:
    workdir: Path
    bitcoind_rpc_port: int = 18443
    node_rpc_port: int = 8545
    api_port: int = 8080
    signing_port_base: int = 18600
    block_seconds: float = 10.0  # 0: no automatic blocks
    demo_accounts: int = 3
    confirmations: int = 2
    challenge_window_blocks: int = 2
    vault: VaultConfig = field(
        default_factory=lambda: VaultConfig(rotation_blocks=3, commitment_interval=50)
    )

    @property
    def logs(self) -> Path:
        return self.workdir / "logs"


class DevnetState:
    """What a devnet decided once and keeps across restarts (DIR/devnet-state.json)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._values: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}

    def get(self, key: str) -> Any:
        return self._values.get(key)

    def set(self, key: str, value: Any) -> None:
        self._values[key] = value
        write_private_json(self.path, self._values)


def write_private_json(path: Path, value: Any) -> None:
    """Write JSON readable by its owner only, atomically."""
    replace_private_file(path, json.dumps(value, indent=2) + "\n")


class Service(Protocol):
    """One part of the stack. `start` returns once it is ready; `stop` never raises for a
    part that is already down; `manifest` gives its top-level entries of devnet.json (and,
    under "logs", {process name: log file})."""

    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def manifest(self) -> dict[str, Any]: ...


class Devnet:
    """Starts `SERVICES` in order, stops them in reverse, writes devnet.json when all are up."""

    def __init__(self, settings: DevnetSettings, binaries: Binaries) -> None:
        self.settings = settings
        self.binaries = binaries
        settings.workdir.mkdir(parents=True, exist_ok=True)
        self.state = DevnetState(settings.workdir / "devnet-state.json")
        self.services: list[Service] = []

    @property
    def manifest_path(self) -> Path:
        return self.settings.workdir / "devnet.json"

    def service(self, name: str) -> Any:
        """A service already started (for the ones after it)."""
        for service in self.services:
            if service.name == name:
                return service
        raise DevnetError(f"{name} is not running (it starts before what needs it)")

    def start(self) -> None:
        """Every service in order; if one fails, those started are stopped and it raises."""
        self.manifest_path.unlink(missing_ok=True)
        try:
            for build in SERVICES:
                service = build(self)
                log.info("devnet: starting %s", service.name)
                self.services.append(service)
                service.start()
        except BaseException:
            self.stop()
            raise
        self._write_manifest()
        log.info("devnet: ready; endpoints in %s", self.manifest_path)

    def stop(self) -> None:
        """In reverse order; each service is stopped even if another fails. devnet.json goes
        first: its endpoints are about to stop answering."""
        self.manifest_path.unlink(missing_ok=True)
        errors = []
        while self.services:
            service = self.services.pop()
            try:
                service.stop()
            except Exception as error:  # keep stopping the others
                log.exception("devnet: %s did not stop cleanly", service.name)
                errors.append(error)
        if errors:
            raise DevnetError(f"{len(errors)} part(s) did not stop cleanly: {errors}")

    def manifest(self) -> dict[str, Any]:
        """Every service's entries, their logs gathered under "logs"."""
        merged: dict[str, Any] = {"logs": {}}
        for service in self.services:
            entries = service.manifest()
            merged["logs"].update(entries.pop("logs", {}))
            merged.update(entries)
        return merged

    def summary(self) -> dict[str, Any]:
        """The endpoints and chain tips, without secrets, for the terminal."""
        manifest = self.manifest()
        bitcoind: BitcoindService = self.service("bitcoind")
        node = manifest["node"]["rpc_url"]
        return {
            "bitcoind": {
                "rpc_url": manifest["bitcoind"]["rpc_url"],
                "height": int(bitcoind.node.getblockcount()),
                "wallet_balance_btc": str(bitcoind.node.getbalance()),
            },
            "node": {**manifest["node"], "height": int(json_rpc(node, "eth_blockNumber"), 16)},
            "api": manifest["api"]["url"],
            "demo_accounts": [a["evm_address"] for a in manifest["demo_accounts"]],
            "manifest": str(self.manifest_path),
            "logs": manifest["logs"],
        }

    def _write_manifest(self) -> None:
        """Written last and atomically, so a reader that sees it can use every endpoint."""
        write_private_json(self.manifest_path, self.manifest())


class BitcoindService:
    """A regtest bitcoind with a mature wallet and test USDT issued (once)."""

    name = "bitcoind"

    def __init__(self, devnet: Devnet) -> None:
        settings = devnet.settings
        self.devnet = devnet
        self.node = BitcoindNode(
            settings.workdir / "bitcoind", devnet.binaries, rpc_port=settings.bitcoind_rpc_port
        )

    def start(self) -> None:
        self.node.start()
        self.node.mine_to_maturity()
        state = self.devnet.state
        if state.get("usdt_property_id") is None:
            start = int(self.node.getblockcount())
            property_id = issue_usdt(self.node, USDT_ISSUED)
            state.set("scan_start_height", start)
            state.set("usdt_property_id", property_id)

    @property
    def usdt_property_id(self) -> int:
        return int(self.devnet.state.get("usdt_property_id"))

    def stop(self) -> None:
        self.node.stop()

    def manifest(self) -> dict[str, Any]:
        return {
            "bitcoind": {
                "rpc_url": self.node.rpc_url,
                "rpc_user": self.node.rpc_user,
                "rpc_password": self.node.rpc_password,
                "cookie_file": str(self.node.cookie_file),
                "wallet": WALLET,
                "network": "regtest",
                "usdt_property_id": self.usdt_property_id,
            },
            "logs": {"bitcoind": str(self.node.debug_log)},
        }


class FederationService:
    """The sidechain node and the relayers (relayer.local)."""

    name = "federation"

    def __init__(self, devnet: Devnet) -> None:
        settings = devnet.settings
        bitcoind: BitcoindService = devnet.service("bitcoind")
        self.local = LocalFederation(
            settings.workdir,
            bitcoind.node,
            FederationSettings(
                confirmations=settings.confirmations,
                poll_interval=0.5,
                usdt_property_id=bitcoind.usdt_property_id,
                scan_start_height=int(devnet.state.get("scan_start_height")),
                challenge_window_blocks=settings.challenge_window_blocks,
                vault=settings.vault,
                node_rpc_port=settings.node_rpc_port,
                signing_port_base=settings.signing_port_base,
            ),
            logs=settings.logs,
        )

    def start(self) -> None:
        self.local.start()

    def stop(self) -> None:
        self.local.close()

    def manifest(self) -> dict[str, Any]:
        local = self.local
        public = json.loads((local.plan.directory / "federation.json").read_text())
        return {
            "node": {
                "rpc_url": local.node_url,
                "chain_id": int(local.rpc("eth_chainId"), 16),
            },
            "contracts": {
                name: {"address": to_checksum_address(address), "abi": load_artifact(name).abi}
                for name, address in (("Bridge", BRIDGE_ADDRESS), ("USDT", USDT_ADDRESS))
            },
            "federation": {
                "members": public["members"],
                "threshold": public["threshold"],
                "vault_change_address": local.vault.change_address,
                "confirmations": local.settings.confirmations,
                "challenge_window_blocks": local.settings.challenge_window_blocks,
                "member_configs": [str(local.config_path(k.member_id)) for k in local.keys],
            },
            "logs": {
                process.name.replace(" ", "-"): str(process.log_path)
                for process in (local.node, *local.relayers)
            },
        }


class ApiService:
    """`sluice api` over member 1's ledger, with member 1's view of bitcoind and the node."""

    name = "api"

    def __init__(self, devnet: Devnet) -> None:
        self.devnet = devnet
        self.federation: FederationService = devnet.service("federation")
        self.url = f"http://127.0.0.1:{devnet.settings.api_port}"
        self._running = ExitStack()
        self.log_path = devnet.settings.logs / "api.log"

    def start(self) -> None:
        local = self.federation.local
        token = self.devnet.state.get("admin_token") or secrets.token_hex(16)
        self.devnet.state.set("admin_token", token)
        config = self.devnet.settings.workdir / "api.toml"
        member = local.config_path(1).read_text()
        replace_private_file(
            config,
            f"{member}\n[api]\nport = {self.devnet.settings.api_port}\n"
            f'node_rpc_url = "{local.node_url}"\nadmin_token = "{token}"\n',
        )
        self._running.enter_context(serving(config, self.devnet.settings.api_port, self.log_path))

    def stop(self) -> None:
        self._running.close()

    def manifest(self) -> dict[str, Any]:
        return {
            "api": {"url": self.url, "admin_token": self.devnet.state.get("admin_token")},
            "logs": {"api": str(self.log_path)},
        }


class MinerService:
    """A regtest block every `block_seconds` (a thread of the devnet process)."""

    name = "miner"

    def __init__(self, devnet: Devnet) -> None:
        self.bitcoind: BitcoindService = devnet.service("bitcoind")
        self.seconds = devnet.settings.block_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.seconds > 0:
            self._thread = threading.Thread(target=self._run, name="miner", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.seconds):
            try:
                self.bitcoind.node.mine(1)
            except Exception as error:  # bitcoind restarting: the next block comes later
                log.warning("devnet: no block this time (%s)", error)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def manifest(self) -> dict[str, Any]:
        return {"miner": {"block_seconds": self.seconds}}


@dataclass(frozen=True)
class DemoAccount:
    evm_private_key: str
    bitcoin_wif: str

    @property
    def evm_address(self) -> str:
        return str(Account.from_key(self.evm_private_key).address)

    @property
    def bitcoin_address(self) -> str:
        secret = PrivateKey(_wif_secret(self.bitcoin_wif))
        digest = hashlib.new("ripemd160", hashlib.sha256(secret.public_key.format()).digest())
        return Network.REGTEST.segwit_address(0, digest.digest())

    def manifest(self) -> dict[str, str]:
        return {
            "evm_address": self.evm_address,
            "evm_private_key": self.evm_private_key,
            "bitcoin_address": self.bitcoin_address,
            "bitcoin_wif": self.bitcoin_wif,
        }

    @classmethod
    def generate(cls) -> "DemoAccount":
        return cls("0x" + secrets.token_bytes(32).hex(), _wif(secrets.token_bytes(32)))


class DemoService:
    """Demo accounts funded on both chains, once; the vault's fee reserve topped up."""

    name = "demo"

    def __init__(self, devnet: Devnet) -> None:
        self.devnet = devnet
        self.bitcoind: BitcoindService = devnet.service("bitcoind")
        self.federation: FederationService = devnet.service("federation")
        self.api: ApiService = devnet.service("api")
        saved = devnet.state.get("demo_accounts")
        if saved is None:
            saved = [
                {"evm_private_key": a.evm_private_key, "bitcoin_wif": a.bitcoin_wif}
                for a in (DemoAccount.generate() for _ in range(devnet.settings.demo_accounts))
            ]
            devnet.state.set("demo_accounts", saved)
        self.accounts = [DemoAccount(**entry) for entry in saved]

    def start(self) -> None:
        if self.devnet.state.get("demo_funded"):
            return
        node = self.bitcoind.node
        node.fund(self.federation.local.vault.change_address, RESERVE_BTC)
        for n, account in enumerate(self.accounts):
            self._import(account, n)
            node.fund(account.bitcoin_address, DEMO_BTC)
        self._send_usdt([(a.bitcoin_address, DEMO_USDT) for a in self.accounts])
        deposits = {a.evm_address: self._deposit_address(a.evm_address) for a in self.accounts}
        # The API wrote them to member 1's ledger; the others learn them from it (gossip).
        wait_until(lambda: self._known_to_all(deposits.values()), FUNDING_TIMEOUT_S, poll=0.2)
        node.rpc(
            "sendmany",
            "",
            {address: f"{Decimal(BRIDGED_SATS) / 10**8:.8f}" for address in deposits.values()},
        )
        self._send_usdt([(address, BRIDGED_USDT) for address in deposits.values()])
        log.info("devnet: demo accounts funded on regtest; waiting for their mints")
        wait_until(self._minted_or_mine, FUNDING_TIMEOUT_S, poll=0.5)
        self.devnet.state.set("demo_funded", True)

    def _import(self, account: DemoAccount, n: int) -> None:
        """The account's Bitcoin key into the devnet wallet (so RPC can spend from it)."""
        node = self.bitcoind.node
        descriptor = f"wpkh({account.bitcoin_wif})"
        checksum = node.rpc("getdescriptorinfo", descriptor, wallet=False)["checksum"]
        request = {"desc": f"{descriptor}#{checksum}", "timestamp": "now", "label": f"demo-{n}"}
        (result,) = node.rpc("importdescriptors", [request])
        if not result.get("success"):
            raise DevnetError(f"bitcoind did not import demo key {n}: {result.get('error')}")

    def _send_usdt(self, payments: list[tuple[str, int]]) -> None:
        node = self.bitcoind.node
        for n, (address, units) in enumerate(payments):
            if n and n % USDT_SENDS_PER_BLOCK == 0:
                node.mine(1)
            send_usdt(node, address, units, property_id=self.bitcoind.usdt_property_id)
        node.mine(1)

    def _deposit_address(self, evm_address: str) -> str:
        """A deposit address from the API, as a wallet would ask for one."""
        reply = _post_json(f"{self.api.url}/v1/deposit-addresses", {"evm_address": evm_address})
        return str(reply["address"])

    def _known_to_all(self, addresses: Iterable[str]) -> bool:
        local = self.federation.local
        for keys in local.keys:
            with local.sessions(keys.member_id)() as session:
                known = Ledger(session).deposit_addresses
                if any(known.get(address) is None for address in addresses):
                    return False
        return True

    def _minted_or_mine(self) -> bool:
        """Every demo account holds its bridged BTC and USDT; if not, one more block."""
        local = self.federation.local
        for account in self.accounts:
            sats = int(local.rpc("eth_getBalance", account.evm_address, "latest"), 16)
            if sats < BRIDGED_SATS * WEI_PER_SAT or _usdt_balance(local, account.evm_address) < (
                BRIDGED_USDT
            ):
                self.bitcoind.node.mine(1)
                return False
        return True

    def stop(self) -> None:
        """Nothing runs here."""

    def manifest(self) -> dict[str, Any]:
        return {"demo_accounts": [account.manifest() for account in self.accounts]}


SERVICES: tuple[Callable[[Devnet], Service], ...] = (
    BitcoindService,
    FederationService,
    ApiService,
    MinerService,
    DemoService,
)


def _usdt_balance(local: LocalFederation, address: str) -> int:
    data = "0x70a08231" + bytes(12).hex() + address[2:].lower()  # balanceOf(address)
    call = {"to": to_checksum_address(USDT_ADDRESS), "data": data}
    return int(local.rpc("eth_call", call, "latest"), 16)


def _post_json(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return dict(json.loads(response.read()))


def _wif(secret: bytes) -> str:
    """A regtest (testnet) WIF of a compressed key."""
    payload = b"\xef" + secret + b"\x01"
    checksum = hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    return str(base58_encode(payload + checksum))


def _wif_secret(wif: str) -> bytes:
    return bytes(base58_decode(wif))[1:33]


@contextmanager
def _signals_raise() -> Iterator[None]:
    """SIGINT and SIGTERM interrupt the main thread (a start or the wait), once."""

    def interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {s: signal.signal(s, interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def run_until_interrupted(devnet: Devnet, wait: bool = True) -> None:
    """Start, print the endpoints, then wait for Ctrl-C or SIGTERM and stop everything (in
    reverse; a second signal during the stop is ignored, so nothing is left behind)."""
    try:
        with _signals_raise():
            devnet.start()
            print(json.dumps(devnet.summary(), indent=2), flush=True)
            if wait:
                log.info("press Ctrl-C to stop")
                while True:
                    time.sleep(3600)
    except KeyboardInterrupt as interrupt:
        log.info("devnet: %s, stopping", interrupt or "interrupted")
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)
        devnet.stop()
        log.info("devnet: stopped")
