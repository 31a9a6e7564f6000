"""A real `sluice node run` on a dev chain with the lending daemons beside it, for the tests of
the oracle pusher, the liquidator and the lending API: the dev federation's three members each
run `sluice oracle push` over one price file, posting from dev accounts of their own."""

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from eth_account import Account
from web3 import Web3

from regtest.util import free_port, wait_until
from sidechain.attestation import Attestation, sign_attestation
from sidechain.contracts import load_artifact
from sidechain.datadir import DEV_FEDERATION_FILE, read_dev_accounts
from sidechain.genesis import DEV_ACCOUNTS_FILE, DEV_CHAIN_ID, DevAccount
from sidechain.predeploys import BRIDGE_ADDRESS, ORACLE_ADDRESS, POOL_ADDRESS, USDT_ADDRESS
from sidechain.system_tx import ASSET_USDT
from sluice.processes import ManagedProcess, answers_tcp, sluice_command
from tests.support.node import NodeProcess, init_dev

WEI_PER_SAT = 10**10
GAS = 3_000_000
BTC_PRICE = "60000"


def toml_list(values: list[str]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


class Chain:
    """web3 over a node: the lending contracts, and transactions signed with a key."""

    def __init__(self, url: str) -> None:
        self.w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 30}))
        self.pool = self.contract("LendingPool", POOL_ADDRESS)
        self.oracle = self.contract("PriceOracle", ORACLE_ADDRESS)

    def contract(self, name: str, address: bytes) -> Any:
        return self.w3.eth.contract(
            address=Web3.to_checksum_address(address), abi=load_artifact(name).abi
        )

    def send(self, key: str, call: Any, value: int = 0) -> dict[str, Any]:
        """Sign and send `call` from `key` (no estimate: a revert is mined); its receipt."""
        return self._sign_and_send(key, call.build_transaction(self.tx_fields(key, value)))

    def pay(self, key: str, to: str, wei: int) -> None:
        """A plain transfer of `wei` from `key`'s account."""
        receipt = self._sign_and_send(key, {**self.tx_fields(key, wei), "to": to, "gas": 21_000})
        assert receipt["status"] == 1, receipt

    def tx_fields(self, key: str, value: int) -> dict[str, Any]:
        sender = Account.from_key(key).address
        return {
            "from": sender,
            "nonce": self.w3.eth.get_transaction_count(sender, "pending"),
            "value": value,
            "gas": GAS,
            "chainId": self.w3.eth.chain_id,
            "gasPrice": self.w3.eth.gas_price * 2,
        }

    def _sign_and_send(self, key: str, tx: dict[str, Any]) -> dict[str, Any]:
        signed = Account.from_key(key).sign_transaction(tx)
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        return dict(self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60))

    def ok(self, key: str, call: Any, value: int = 0) -> dict[str, Any]:
        """Send `call`, which must succeed (a refusal raises with the contract's reason)."""
        call.call({"from": Account.from_key(key).address, "value": value})
        receipt = self.send(key, call, value)
        assert receipt["status"] == 1, receipt
        return receipt

    def price(self, asset: int) -> tuple[int, int, int]:
        return tuple(self.oracle.functions.reports(asset).call())  # type: ignore[return-value]


class LendingNode(Chain):
    """A dev node: its funded dev accounts and its federation's keys."""

    def __init__(self, node: NodeProcess) -> None:
        super().__init__(node.url)
        self.node = node
        self.accounts = read_dev_accounts(node.datadir / DEV_ACCOUNTS_FILE)
        self.members = read_dev_accounts(node.datadir / DEV_FEDERATION_FILE)


class Pushers:
    """`sluice oracle push` for every dev federation member, over one price file."""

    def __init__(self, chain: LendingNode, workdir: Path, **oracle: object) -> None:
        self.chain = chain
        self.price_file = workdir / "prices.json"
        self.write_prices(BTC=BTC_PRICE, USDT="1")
        self.ports = [free_port() for _ in chain.members]
        self.posters = chain.accounts[-len(chain.members) :]
        self.processes = [
            ManagedProcess(
                f"oracle {n + 1}",
                sluice_command("oracle", "push", "--config", str(self._config(workdir, n, oracle))),
                workdir / f"oracle-{n + 1}.log",
            )
            for n in range(len(chain.members))
        ]

    def _config(self, workdir: Path, n: int, oracle: dict[str, object]) -> Path:
        members, ports = self.chain.members, self.ports
        peers = [i for i in range(len(members)) if i != n]
        settings = {"poll_interval": 0.3, "takeover_after": 3.0, **oracle}
        extra = "".join(f"{key} = {json.dumps(value)}\n" for key, value in settings.items())
        path = workdir / f"oracle-{n + 1}.toml"
        path.write_text(
            f"[relayer]\nmember_id = {n + 1}\n"
            f'bitcoin_private_key = "{secrets.token_hex(32)}"\n'
            f'evm_private_key = "{members[n].private_key}"\n'
            f'node_rpc_url = "{self.chain.node.url}"\n'
            f'[oracle]\nsource_file = "{self.price_file}"\nport = {ports[n]}\n'
            f"peer_addresses = {toml_list([members[i].address for i in peers])}\n"
            f"peer_urls = {toml_list([f'http://127.0.0.1:{ports[i]}' for i in peers])}\n"
            f'poster_private_key = "{self.posters[n].private_key}"\n{extra}'
        )
        return path

    def write_prices(self, **prices: str) -> None:
        partial = self.price_file.with_suffix(".partial")
        partial.write_text(json.dumps(prices))
        partial.replace(self.price_file)

    def start(self) -> None:
        for process, port in zip(self.processes, self.ports, strict=True):
            process.start(answers_tcp("127.0.0.1", port), timeout=60)

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    def wait_for_price(self, asset: int, price: int, timeout: float = 60) -> None:
        wait_until(lambda: self.chain.price(asset)[0] == price, timeout)

    def logs(self) -> str:
        return "\n".join(p.log_path.read_text(errors="replace") for p in self.processes)


def mint_usdt(chain: LendingNode, recipient: str, amount: int) -> None:
    """Two dev federation members attest a USDT deposit to `recipient` (the dev chain has no
    Bitcoin side); the node mints it."""
    attestation = Attestation(
        secrets.token_bytes(32), 0, ASSET_USDT, amount, bytes.fromhex(recipient[2:])
    )
    body = {
        "txid": "0x" + attestation.txid.hex(),
        "vout": "0x0",
        "asset": "USDT",
        "amount": hex(amount),
        "recipient": Web3.to_checksum_address(recipient),
    }
    usdt = chain.contract("USDT", USDT_ADDRESS)
    before = usdt.functions.balanceOf(recipient).call()
    for member in chain.members[:2]:
        signature = sign_attestation(attestation, member.private_key, DEV_CHAIN_ID, BRIDGE_ADDRESS)
        chain.node.rpc("sluice_submitAttestation", body, "0x" + signature.hex())
    wait_until(lambda: usdt.functions.balanceOf(recipient).call() == before + amount, 60)


class LiquidatorProcess(ManagedProcess):
    """`sluice liquidator run` from a dev account, its state file in `workdir`."""

    def __init__(self, chain: LendingNode, workdir: Path, account: DevAccount) -> None:
        self.state_file = workdir / "liquidator-state.json"
        config = workdir / "liquidator.toml"
        config.write_text(
            f'[liquidator]\nnode_rpc_url = "{chain.node.url}"\n'
            f'private_key = "{account.private_key}"\nstate_file = "{self.state_file}"\n'
            "poll_interval = 0.2\n"
        )
        self.address = account.address
        command = sluice_command("liquidator", "run", "--config", str(config))
        super().__init__("liquidator", command, workdir / "liquidator.log")

    def start(self) -> None:  # type: ignore[override]
        super().start(self.state_file.exists, timeout=60)

    def state(self) -> dict[str, Any]:
        return dict(json.loads(self.state_file.read_text()))


@contextmanager
def running_node(workdir: Path) -> Iterator[LendingNode]:
    """A dev node (blocks every 0.5 s) in `workdir`, stopped at the end."""
    node = NodeProcess(init_dev(workdir), block_interval=0.5)
    node.start()
    try:
        yield LendingNode(node)
    finally:
        node.stop()


@contextmanager
def pushing_prices(chain: LendingNode, workdir: Path) -> Iterator[Pushers]:
    """The members' price pushers over `chain`, started and waited for until BTC is at 60,000
    and USDT at 1; stopped at the end."""
    stack = Pushers(chain, workdir)
    stack.start()
    try:
        stack.wait_for_price(0, 60_000 * 10**8)
        stack.wait_for_price(1, 10**8)
        yield stack
    finally:
        stack.stop()
