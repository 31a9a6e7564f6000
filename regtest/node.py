"""`BitcoindNode`: one regtest bitcoind process, its datadir and its RPC, with a clean lifecycle.

Modelled on Bitcoin Core's functional test framework: `start → wait_for_rpc_connection →
stop → wait_until_stopped`, RPC calls forwarded by attribute (`node.getblockcount()`), and helpers
named after the protocol (`mine`, `fund`, `send_raw`, `invalidate`, `reconsider`). The process is
managed by PID and datadir, never by name (the Debian build runs under its own loader).
"""

import atexit
import base64
import hashlib
import hmac
import http.client
import json
import logging
import secrets
import signal
import subprocess
import weakref
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from bridge.bitcoin.errors import BitcoinRPCError, rpc_error
from regtest.binaries import Binaries
from regtest.errors import FailedToStart
from regtest.util import free_port, wait_until

log = logging.getLogger(__name__)

WALLET = "sluice"
RPC_USER = "sluice"
COINBASE_MATURITY = 100
KNOTS_POLICY = {"rejecttokens": 0, "rejectparasites": 0, "acceptnonstddatacarrier": 1}
# Connection failures that mean "not up yet" rather than a real error.
_NOT_UP = (ConnectionRefusedError, ConnectionResetError, http.client.RemoteDisconnected)
# Nodes with a live process; killed at interpreter exit if a caller forgot (or crashed before) stop.
_LIVE_NODES: "weakref.WeakSet[BitcoindNode]" = weakref.WeakSet()


class BitcoindNode:
    """A bitcoind in regtest on free ports with its own datadir and a wallet named `sluice`."""

    def __init__(
        self,
        datadir: Path,
        binaries: Binaries,
        *,
        index: int = 0,
        extra_args: Sequence[str] = (),
        rpc_timeout: float = 60.0,
        rpc_port: int = 0,
        p2p_port: int = 0,
    ) -> None:
        """Ports of 0 are picked free at the first start."""
        self.index = index
        self.name = f"node {index}"
        self.datadir = datadir
        self.binaries = binaries
        self.extra_args = list(extra_args)
        self.rpc_timeout = rpc_timeout
        self.rpc_user = RPC_USER
        self.rpc_password = secrets.token_hex(16)
        self.rpc_port = rpc_port
        self.p2p_port = p2p_port or (rpc_port + 1 if rpc_port else 0)
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: Any = None

    def __repr__(self) -> str:
        return f"BitcoindNode({self.name}, {self.datadir}, rpc port {self.rpc_port})"

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.rpc_port}"

    @property
    def cookie_file(self) -> Path:
        return self.datadir / "regtest" / ".cookie"

    @property
    def debug_log(self) -> Path:
        return self.datadir / "regtest" / "debug.log"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, attempts: int = 3) -> None:
        """Start and wait for RPC. The first start picks free ports, later starts keep them so
        clients survive a restart; a port taken meanwhile is replaced by a new free one."""
        for attempt in range(1, attempts + 1):
            if attempt > 1 or not self.rpc_port:
                self.rpc_port, self.p2p_port = free_port(), free_port()
            self._write_config()
            self._spawn()
            try:
                self.wait_for_rpc_connection()
                break
            except FailedToStart as error:
                if attempt == attempts or "bind" not in error.log_tail.lower():
                    raise
                log.info("[%s] port taken, retrying on new ports", self.name)
        self._load_wallet()

    def _write_config(self) -> None:
        self.datadir.mkdir(parents=True, exist_ok=True)
        options = [
            "regtest=1",
            "server=1",
            "listen=1",
            "discover=0",
            "dnsseed=0",
            "fixedseeds=0",
            "txindex=1",
            "fallbackfee=0.0002",
            "printtoconsole=0",
            "[regtest]",
            "bind=127.0.0.1",
            f"port={self.p2p_port}",
            f"rpcport={self.rpc_port}",
            "rpcbind=127.0.0.1",
            "rpcallowip=127.0.0.1",
            f"rpcauth={_rpcauth_line(self.rpc_user, self.rpc_password)}",
        ]
        if self._wallet_dir.exists():
            # Loaded during start-up, before RPC leaves warm-up: a wallet call that waited
            # out a restart never finds the wallet missing.
            options.insert(options.index("[regtest]") + 1, f"wallet={WALLET}")
        # Knots-only policy: let token (Omni) outputs relay, and the deposit script's
        # `<recipient> OP_DROP` prefix, which Knots counts as data-carrier injection.
        for option, value in KNOTS_POLICY.items():
            if self.binaries.supports(option):
                options.append(f"{option}={value}")
        (self.datadir / "bitcoin.conf").write_text("\n".join(options) + "\n")

    def _spawn(self) -> None:
        command = [str(self.binaries.bitcoind), f"-datadir={self.datadir}", *self.extra_args]
        log.info("[%s] starting bitcoind in %s", self.name, self.datadir)
        self._log_file = (self.datadir / "stderr.log").open("ab")
        self.process = subprocess.Popen(
            command, stdout=self._log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
        _LIVE_NODES.add(self)

    def wait_for_rpc_connection(self, timeout: float = 60.0) -> None:
        """Wait until RPC answers; a process that exits first raises `FailedToStart`."""

        def rpc_ready() -> bool:
            if not self.running:
                assert self.process is not None
                status = self.process.wait()
                self._close_log()
                raise FailedToStart(self.name, f"exited with status {status}", self._log_tail())
            try:
                self.rpc("getblockcount", wallet=False)
                return True
            except _NOT_UP:
                return False
            except BitcoinRPCError as error:
                if error.code == -28:  # warming up
                    return False
                raise

        try:
            wait_until(rpc_ready, timeout=timeout, poll=0.05)
        except FailedToStart:
            raise
        except Exception as error:
            self.kill()
            raise FailedToStart(self.name, str(error), self._log_tail()) from error
        log.info("[%s] RPC ready on port %d", self.name, self.rpc_port)

    @property
    def _wallet_dir(self) -> Path:
        return self.datadir / "regtest" / "wallets" / WALLET

    def _load_wallet(self) -> None:
        if self._wallet_dir.exists():
            try:
                self.rpc("loadwallet", WALLET, wallet=False)
            except BitcoinRPCError as error:
                if error.code != -35:  # already loaded
                    raise
        else:
            self.rpc("createwallet", WALLET, wallet=False)

    def stop(self, timeout: float = 60.0) -> None:
        """Ask bitcoind to stop and wait; kill it if it does not. Never leaves a process."""
        if not self.running:
            self._close_log()
            return
        try:
            self.rpc("stop", wallet=False)
            self.wait_until_stopped(timeout)
        except Exception:
            log.warning("[%s] did not stop cleanly; killing it", self.name)
            self.kill()
        log.info("[%s] stopped", self.name)

    def wait_until_stopped(self, timeout: float = 60.0) -> None:
        assert self.process is not None
        self.process.wait(timeout)
        self._close_log()

    def kill(self) -> None:
        """SIGKILL the process (and its session), as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
        self._close_log()

    def restart(self) -> None:
        """Stop and start again on the same datadir, ports, chain and wallet."""
        self.stop()
        self.start()

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def _log_tail(self, lines: int = 20) -> str:
        for path in (self.debug_log, self.datadir / "stderr.log"):
            if path.exists() and path.stat().st_size:
                return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        return "(no log written)"

    def __enter__(self) -> "BitcoindNode":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __del__(self) -> None:
        self.kill()

    # -- RPC ---------------------------------------------------------------------------------

    def rpc(self, method: str, *params: Any, wallet: bool = True) -> Any:
        """One synchronous JSON-RPC call; wallet calls go to the `sluice` wallet."""
        path = f"/wallet/{WALLET}" if wallet else "/"
        body = json.dumps(
            {"jsonrpc": "1.0", "id": 1, "method": method, "params": params}, default=_json_default
        )
        token = base64.b64encode(f"{self.rpc_user}:{self.rpc_password}".encode()).decode()
        connection = http.client.HTTPConnection(
            "127.0.0.1", self.rpc_port, timeout=self.rpc_timeout
        )
        try:
            connection.request(
                "POST",
                path,
                body,
                {"Authorization": f"Basic {token}", "Content-Type": "application/json"},
            )
            response = connection.getresponse()
            reply = json.loads(response.read(), parse_float=Decimal)
        finally:
            connection.close()
        if reply.get("error"):
            raise rpc_error(reply["error"]["code"], reply["error"]["message"], method)
        return reply["result"]

    def __getattr__(self, method: str) -> Any:
        if method.startswith("_"):
            raise AttributeError(method)
        return lambda *params: self.rpc(method, *params)

    # -- protocol helpers -------------------------------------------------------------------

    def new_address(self, kind: str = "bech32") -> str:
        return str(self.rpc("getnewaddress", "", kind))

    def mine(self, blocks: int, address: str | None = None) -> list[str]:
        """Mine `blocks` blocks to `address` (a wallet address by default); returns their hashes."""
        return list(self.rpc("generatetoaddress", blocks, address or self.new_address()))

    def mine_to_maturity(self) -> None:
        """Mine until the wallet has a spendable coinbase (101 blocks on a fresh chain)."""
        missing = COINBASE_MATURITY + 1 - int(self.rpc("getblockcount", wallet=False))
        if missing > 0:
            self.mine(missing)

    def fund(self, address: str, btc: Decimal | str) -> str:
        """Pay `btc` to `address` from the wallet; returns the txid (unconfirmed until mined)."""
        return str(self.rpc("sendtoaddress", address, Decimal(btc)))

    def send_raw(self, tx_hex: str) -> str:
        return str(self.rpc("sendrawtransaction", tx_hex, wallet=False))

    def invalidate(self, block_hash: str) -> None:
        self.rpc("invalidateblock", block_hash, wallet=False)

    def reconsider(self, block_hash: str) -> None:
        self.rpc("reconsiderblock", block_hash, wallet=False)

    def tip(self) -> tuple[int, str]:
        info = self.rpc("getblockchaininfo", wallet=False)
        return int(info["blocks"]), str(info["bestblockhash"])


@atexit.register
def _kill_leftovers() -> None:
    for node in list(_LIVE_NODES):
        node.kill()


def _rpcauth_line(user: str, password: str) -> str:
    """`user:salt$hmac` as bitcoind's rpcauth expects; bitcoind still writes a cookie file too."""
    salt = secrets.token_hex(16)
    digest = hmac.new(salt.encode(), password.encode(), hashlib.sha256).hexdigest()
    return f"{user}:{salt}${digest}"


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)  # bitcoind takes amounts as decimal strings: no float rounding
    raise TypeError(f"cannot send {type(value).__name__} to bitcoind")
