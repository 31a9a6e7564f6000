"""`sluice devnet`: the whole stack on one machine, with embedded defaults.

The stack is a list of services (`SERVICES`), started in that order and stopped in reverse:

    bitcoind     a regtest bitcoind with a mature wallet and test USDT (an Omni managed
                 property, issued once)
    federation   the sidechain node and a 2-of-3 federation of `sluice relayer run` processes,
                 from the files of `sluice federation init` (relayer.local.LocalFederation);
                 every member is an operator with 1 BTC staked at genesis
    watchers     a `sluice watcher run` per member (voting with the member's key) and an
                 independent challenger (its own key, given gas at genesis)
    api          `sluice api` over member 1's ledger
    miner        a regtest block every `block_seconds`, so deposits confirm and windows close
    demo         demo accounts funded on both chains (once): BTC and test USDT on regtest at
                 their own keys (imported into the wallet), and BTC and USDT on the sidechain
                 through real bridge deposits; the fee reserve topped up at the vault
    oracle       each member's `sluice oracle push` over DIR/prices.json (edit it to move the
                 prices), posting from poster accounts bridged in once; ready when the first
                 prices are on chain, so lending works at once
    liquidator   `sluice liquidator run`, the lending keeper and liquidator, from an account
                 bridged in once with BTC and USDT to repay debts with

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
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from bridge.bitcoin.network import Network
from bridge.ledger import Ledger
from lending.account import write_account_file
from regtest.binaries import Binaries
from regtest.node import WALLET, BitcoindNode
from regtest.omni import issue_usdt, send_usdt
from regtest.util import free_port, wait_until
from relayer.api.process import serving
from relayer.keys import replace_private_file
from relayer.local import FederationSettings, LocalFederation
from sidechain.contracts import load_artifact
from sidechain.predeploys import (
    BRIDGE_ADDRESS,
    BTC_VAULT_ADDRESS,
    COURT_ADDRESS,
    LEVERAGE_ROUTER_ADDRESS,
    ORACLE_ADDRESS,
    POOL_ADDRESS,
    USDT_ADDRESS,
)
from sidechain.system_tx import WEI_PER_SAT
from sluice.config import VaultConfig
from sluice.errors import SluiceError
from sluice.processes import ManagedProcess, answers_tcp, json_rpc, sluice_command

log = logging.getLogger(__name__)
USDT_ISSUED = 10**17  # a billion test USDT
DEMO_BTC = Decimal("1")  # on regtest, per demo account
DEMO_USDT = 1_000 * 10**8
BRIDGED_SATS = 50_000_000  # minted on the sidechain per demo account
BRIDGED_USDT = 100 * 10**8
RESERVE_BTC = Decimal("0.1")  # the vault's fee reserve top-up
USDT_SENDS_PER_BLOCK = 10  # the issuer's sends chain through its change
FUNDING_TIMEOUT_S = 300.0
STARTUP_TIMEOUT_S = 60.0
DEVNET_PRICES = {"BTC": "60000", "USDT": "1"}  # the price file's first content
POSTER_SATS = 10_000_000  # gas for an oracle poster
LIQUIDATOR_SATS = 200_000_000
LIQUIDATOR_USDT = 100_000 * 10**8
KEEPER_INTERVAL_S = 2.0  # a dev node makes a block per transaction: accrue every 2 s at most
LENDING_CONTRACTS = (
    ("PriceOracle", ORACLE_ADDRESS),
    ("LendingPool", POOL_ADDRESS),
    ("LeverageRouter", LEVERAGE_ROUTER_ADDRESS),
    ("RestakingVault", BTC_VAULT_ADDRESS),
    ("ChallengeCourt", COURT_ADDRESS),
)


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
                watchers=True,
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


class WatcherService:
    """The watchers of the federation (relayer.local): each its own process, state and key."""

    name = "watchers"

    def __init__(self, devnet: Devnet) -> None:
        federation: FederationService = devnet.service("federation")
        self.watchers = federation.local.watchers

    def start(self) -> None:
        for watcher in self.watchers:
            watcher.start()

    def stop(self) -> None:
        for watcher in reversed(self.watchers):
            watcher.stop()

    def manifest(self) -> dict[str, Any]:
        return {
            "watchers": [
                {
                    "name": watcher.name,
                    "account": to_checksum_address(watcher.address),
                    "challenges": watcher.challenge,
                    "config": str(watcher.config_path),
                    "state_file": str(watcher.state_path),
                }
                for watcher in self.watchers
            ],
            "logs": {
                watcher.name.replace(" ", "-"): str(watcher.log_path) for watcher in self.watchers
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


class Funding:
    """Bridged BTC and USDT for sidechain accounts, through real deposits: an address from the
    API for each, paid from the regtest wallet, minted by the federation."""

    def __init__(self, devnet: Devnet) -> None:
        self.bitcoind: BitcoindService = devnet.service("bitcoind")
        self.federation: FederationService = devnet.service("federation")
        self.api: ApiService = devnet.service("api")

    def bridge(self, amounts: dict[str, tuple[int, int]]) -> None:
        """{EVM address: (sats, USDT units)} minted to each; returns once all are."""
        node = self.bitcoind.node
        deposits = {evm: self._deposit_address(evm) for evm in amounts}
        # The API wrote them to member 1's ledger; the others learn them from it (gossip).
        wait_until(lambda: self._known_to_all(deposits.values()), FUNDING_TIMEOUT_S, poll=0.2)
        btc = {
            deposits[evm]: f"{Decimal(sats) / 10**8:.8f}"
            for evm, (sats, _) in amounts.items()
            if sats
        }
        if btc:
            node.rpc("sendmany", "", btc)
        self.send_usdt([(deposits[evm], usdt) for evm, (_, usdt) in amounts.items() if usdt])
        log.info("devnet: %d accounts paid on regtest; waiting for their mints", len(amounts))
        wait_until(lambda: self._minted_or_mine(amounts), FUNDING_TIMEOUT_S, poll=0.5)

    def send_usdt(self, payments: list[tuple[str, int]]) -> None:
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

    def _minted_or_mine(self, amounts: dict[str, tuple[int, int]]) -> bool:
        """Every account holds its bridged BTC and USDT; if not, one more block."""
        local = self.federation.local
        for evm, (sats, usdt) in amounts.items():
            balance = int(local.rpc("eth_getBalance", evm, "latest"), 16)
            if balance < sats * WEI_PER_SAT or _usdt_balance(local, evm) < usdt:
                self.bitcoind.node.mine(1)
                return False
        return True


class DemoService:
    """Demo accounts funded on both chains, once; the vault's fee reserve topped up."""

    name = "demo"

    def __init__(self, devnet: Devnet) -> None:
        self.devnet = devnet
        self.bitcoind: BitcoindService = devnet.service("bitcoind")
        self.federation: FederationService = devnet.service("federation")
        saved = devnet.state.get("demo_accounts")
        if saved is None:
            saved = [
                {"evm_private_key": a.evm_private_key, "bitcoin_wif": a.bitcoin_wif}
                for a in (DemoAccount.generate() for _ in range(devnet.settings.demo_accounts))
            ]
            devnet.state.set("demo_accounts", saved)
        self.accounts = [DemoAccount(**entry) for entry in saved]
        self.funding = Funding(devnet)

    def start(self) -> None:
        if self.devnet.state.get("demo_funded"):
            return
        node = self.bitcoind.node
        node.fund(self.federation.local.vault.change_address, RESERVE_BTC)
        for n, account in enumerate(self.accounts):
            self._import(account, n)
            node.fund(account.bitcoin_address, DEMO_BTC)
        self.funding.send_usdt([(a.bitcoin_address, DEMO_USDT) for a in self.accounts])
        self.funding.bridge({a.evm_address: (BRIDGED_SATS, BRIDGED_USDT) for a in self.accounts})
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

    def stop(self) -> None:
        """Nothing runs here."""

    def manifest(self) -> dict[str, Any]:
        return {"demo_accounts": [account.manifest() for account in self.accounts]}


class OracleService:
    """Each federation member's `sluice oracle push` over the devnet's price file (a person or
    a test edits it), posting from a poster account of its own (bridged BTC for gas, once);
    started once the first prices are posted, so lending works at once."""

    name = "oracle"

    def __init__(self, devnet: Devnet) -> None:
        self.devnet = devnet
        self.federation: FederationService = devnet.service("federation")
        self.directory = devnet.settings.workdir / "lending"
        self.price_file = devnet.settings.workdir / "prices.json"
        local = self.federation.local
        self.posters = _service_accounts(devnet, "oracle_posters", len(local.keys))
        self.ports = [free_port() for _ in local.keys]
        self.processes = [
            ManagedProcess(
                f"oracle {keys.member_id}",
                sluice_command("oracle", "push", "--config", str(self.config_path(keys.member_id))),
                devnet.settings.logs / f"oracle-{keys.member_id}.log",
            )
            for keys in local.keys
        ]

    def config_path(self, member_id: int) -> Path:
        return self.directory / f"oracle-{member_id}.toml"

    def start(self) -> None:
        self.directory.mkdir(mode=0o700, exist_ok=True)
        if not self.devnet.state.get("oracle_funded"):
            Funding(self.devnet).bridge({a.address: (POSTER_SATS, 0) for a in self.posters})
            self.devnet.state.set("oracle_funded", True)
        if not self.price_file.exists():
            write_private_json(self.price_file, DEVNET_PRICES)
        local = self.federation.local
        for n, keys in enumerate(local.keys):
            key_file = self.directory / f"poster-{keys.member_id}.json"
            write_account_file(key_file, self.posters[n])
            peers = [i for i in range(len(local.keys)) if i != n]
            replace_private_file(
                self.config_path(keys.member_id),
                local.config_path(keys.member_id).read_text()
                + "\n[oracle]\n"
                + _toml_settings(
                    source_file=str(self.price_file),
                    port=self.ports[n],
                    peer_addresses=[local.keys[i].address for i in peers],
                    peer_urls=[f"http://127.0.0.1:{self.ports[i]}" for i in peers],
                    poster_key_file=str(key_file),
                    poll_interval=1.0,
                    takeover_after=5.0,
                ),
            )
        for process in self.processes:  # all at once: each takes seconds to start
            process.start()
        for process, port in zip(self.processes, self.ports, strict=True):
            wait_until(lambda p=process, n=port: _answers(p, n), STARTUP_TIMEOUT_S, poll=0.2)
        wait_until(self._prices_posted, FUNDING_TIMEOUT_S, poll=0.5)

    def _prices_posted(self) -> bool:
        local = self.federation.local
        oracle = load_artifact("PriceOracle")
        for asset in (0, 1):
            call = {
                "to": to_checksum_address(ORACLE_ADDRESS),
                "data": "0x" + oracle.calldata("reports", asset).hex(),
            }
            if int(local.rpc("eth_call", call, "latest")[2:66], 16) == 0:
                return False
        return True

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    def manifest(self) -> dict[str, Any]:
        local = self.federation.local
        return {
            "oracle": {
                "price_file": str(self.price_file),
                "pushers": [
                    {
                        "member_id": keys.member_id,
                        "config": str(self.config_path(keys.member_id)),
                        "cosign_url": f"http://127.0.0.1:{port}",
                        "poster": poster.address,
                    }
                    for keys, port, poster in zip(local.keys, self.ports, self.posters, strict=True)
                ],
            },
            "lending": {
                "contracts": {
                    name: {"address": to_checksum_address(address), "abi": load_artifact(name).abi}
                    for name, address in LENDING_CONTRACTS
                },
            },
            "logs": {p.name.replace(" ", "-"): str(p.log_path) for p in self.processes},
        }


class LiquidatorService:
    """`sluice liquidator run` (and the accrual keeper) from an account of its own, funded
    once with bridged BTC and USDT to repay debts with."""

    name = "liquidator"

    def __init__(self, devnet: Devnet) -> None:
        self.devnet = devnet
        self.federation: FederationService = devnet.service("federation")
        self.directory = devnet.settings.workdir / "lending"
        self.config_path = self.directory / "liquidator.toml"
        self.state_file = self.directory / "liquidator-state.json"
        (self.account,) = _service_accounts(devnet, "liquidator", 1)
        self.process = ManagedProcess(
            "liquidator",
            sluice_command("liquidator", "run", "--config", str(self.config_path)),
            devnet.settings.logs / "liquidator.log",
        )

    def start(self) -> None:
        if not self.devnet.state.get("liquidator_funded"):
            funds = {self.account.address: (LIQUIDATOR_SATS, LIQUIDATOR_USDT)}
            Funding(self.devnet).bridge(funds)
            self.devnet.state.set("liquidator_funded", True)
        key_file = self.directory / "liquidator-key.json"
        write_account_file(key_file, self.account)
        replace_private_file(
            self.config_path,
            "[liquidator]\n"
            + _toml_settings(
                node_rpc_url=self.federation.local.node_url,
                key_file=str(key_file),
                state_file=str(self.state_file),
                keeper_interval=KEEPER_INTERVAL_S,
            ),
        )
        self.process.start(self.state_file.exists, timeout=STARTUP_TIMEOUT_S)

    def stop(self) -> None:
        self.process.stop()

    def manifest(self) -> dict[str, Any]:
        return {
            "liquidator": {
                "address": self.account.address,
                "config": str(self.config_path),
                "state_file": str(self.state_file),
            },
            "logs": {"liquidator": str(self.process.log_path)},
        }


SERVICES: tuple[Callable[[Devnet], Service], ...] = (
    BitcoindService,
    FederationService,
    WatcherService,
    ApiService,
    MinerService,
    DemoService,
    OracleService,
    LiquidatorService,
)


def _answers(process: ManagedProcess, port: int) -> bool:
    """Whether `process` accepts connections on `port`; DevnetError if it died."""
    if not process.running:
        raise DevnetError(f"{process.name} exited; see {process.log_path}")
    return answers_tcp("127.0.0.1", port)()


def _service_accounts(devnet: Devnet, name: str, count: int) -> list[LocalAccount]:
    """Accounts a service sends from, made once and kept in the devnet's state."""
    keys = devnet.state.get(f"{name}_keys")
    if keys is None:
        keys = ["0x" + secrets.token_bytes(32).hex() for _ in range(count)]
        devnet.state.set(f"{name}_keys", keys)
    return [Account.from_key(key) for key in keys]


def _toml_settings(**settings: object) -> str:
    """key = value lines (TOML's strings, numbers and lists are JSON's)."""
    return "".join(f"{key} = {json.dumps(value)}\n" for key, value in settings.items())


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
