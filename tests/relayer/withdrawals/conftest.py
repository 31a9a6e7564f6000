"""A 2-of-3 federation in one process: a real bitcoind, a real `sluice node run`, and per member
its own SQLite ledger, bitcoind client, keys and signing server on a loopback port.

Tests here drive each stage step by step (`Harness.step`), so they can hold a release in the
mempool or hand a member a forged proposal. The vault is funded by real deposits the Bridge
mints (attested by two members), recorded in each ledger as the deposit loop would; the fee
reserve is topped up at the vault change address. The scenarios with `sluice relayer run`
processes are in tests/relayer/releases.
"""

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from coincurve import PrivateKey
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from bridge.bitcoin.deposit_script import DepositScript
from bridge.bitcoin.rpc import BitcoinRPC
from bridge.ledger import Asset, DepositStatus, Ledger, ledger_sessions
from bridge.ledger.testing import sqlite_ledger
from regtest.node import BitcoindNode
from regtest.omni import issue_usdt, omni_state, send_usdt
from regtest.util import free_port, wait_until
from relayer.audit import Auditor, Solvency, read_ledger
from relayer.commitments import CommitmentStage
from relayer.keys import MemberKeys
from relayer.node_client import BRIDGE_EVENT_TOPICS, NodeClient
from relayer.release import ReleaseStage
from relayer.release_build import SpendRules
from relayer.release_check import SpendChecker
from relayer.release_sidechain import BridgeChain
from relayer.signing import BridgeDomain, Peer, SigningMember
from relayer.signing_client import Federation, PeerClient
from relayer.signing_server import SigningServer
from relayer.vault import Vault, VaultSettings
from relayer.withdrawals import WithdrawalStage
from sidechain.attestation import Attestation, sign_attestation
from sidechain.predeploys import BRIDGE_ADDRESS
from sidechain.system_tx import ASSET_BTC, ASSET_USDT
from sluice.config import VaultConfig
from tests.relayer.support import Bridge
from tests.support.node import NodeProcess, init_dev

THRESHOLD = 2
WINDOW = 3
CONFIRMATIONS = 2
ROTATION = 4
BLOCK_INTERVAL = 0.3
COMMITMENT_INTERVAL = 5
RESERVE_BTC = "0.01"  # the fee reserve the harness tops up at the vault change address
POLICY = VaultConfig(
    rbf_after_blocks=2, rotation_blocks=ROTATION, commitment_interval=COMMITMENT_INTERVAL
)


@dataclass
class Member:
    keys: MemberKeys
    sessions: Any
    rpc: BitcoinRPC
    node: NodeClient
    vault: Vault
    member: SigningMember
    federation: Federation
    client: PeerClient
    server: SigningServer
    withdrawals: WithdrawalStage
    releases: ReleaseStage
    commitments: CommitmentStage


@dataclass
class Harness:
    bitcoind: BitcoindNode
    node: NodeProcess
    w3: Web3
    members: list[Member]
    bitcoin_keys: list[PrivateKey]
    federation_accounts: list[LocalAccount]
    users: list[LocalAccount]
    property_id: int
    chain_id: int
    rules: SpendRules
    settings: VaultSettings

    @property
    def bridge(self) -> Bridge:
        return Bridge(self.w3)

    def deposit_script(self, recipient: str) -> DepositScript:
        keys = [k.public_key.format() for k in self.bitcoin_keys]
        return DepositScript.create(recipient, keys, THRESHOLD)

    def fund_vault_btc(self, btc: str, user: LocalAccount) -> str:
        """A BTC deposit for `user` on Bitcoin, minted to `user` on the sidechain."""
        sats = int(Decimal(btc) * 10**8)
        script = self.deposit_script(user.address)
        address = script.address("regtest")
        txid = self.bitcoind.fund(address, Decimal(btc))
        before = self.bridge.balance_sats(user.address)
        deposit_id = self._mint(txid, address, ASSET_BTC, sats, user, script)
        wait_until(lambda: self.bridge.balance_sats(user.address) == before + sats)
        return deposit_id

    def fund_vault_usdt(self, units: int, user: LocalAccount) -> str:
        """A USDT deposit for `user` on Bitcoin, minted to `user` on the sidechain."""
        script = self.deposit_script(user.address)
        address = script.address("regtest")
        txid = send_usdt(self.bitcoind, address, units, property_id=self.property_id)
        before = self.bridge.usdt_balance(user.address)
        deposit_id = self._mint(txid, address, ASSET_USDT, units, user, script)
        wait_until(lambda: self.bridge.usdt_balance(user.address) == before + units)
        return deposit_id

    def _mint(
        self,
        txid: str,
        address: str,
        asset: int,
        amount: int,
        user: LocalAccount,
        script: DepositScript,
    ) -> str:
        """Mine the deposit, have two members attest it (the Bridge mints), and record it in
        every ledger as the deposit loop would."""
        self.bitcoind.mine(1)
        vout = _vout_paying(self.bitcoind, txid, address)
        attestation = Attestation(
            bytes.fromhex(txid), vout, asset, amount, bytes.fromhex(user.address[2:])
        )
        param = {
            "txid": "0x" + txid,
            "vout": hex(vout),
            "asset": ["BTC", "USDT"][asset],
            "amount": hex(amount),
            "recipient": user.address,
        }
        for account in self.federation_accounts[:THRESHOLD]:
            signature = sign_attestation(attestation, account.key, self.chain_id, BRIDGE_ADDRESS)
            self.node.rpc("sluice_submitAttestation", param, "0x" + signature.hex())
        minted = self.bridge.contract.functions.minted
        wait_until(lambda: minted(bytes.fromhex(txid), vout).call())
        criteria = {
            "fromBlock": "0x0",
            "address": self.bridge.contract.address,
            "topics": [BRIDGE_EVENT_TOPICS["Deposited"], None, "0x" + txid],
        }
        (mint,) = self.node.rpc("eth_getLogs", criteria)
        mint_tx = str(mint["transactionHash"])
        self._record_minted(
            txid, vout, Asset.BTC if asset == ASSET_BTC else Asset.USDT, amount, script, mint_tx
        )
        return f"{txid}:{vout}"

    def _record_minted(
        self,
        txid: str,
        vout: int,
        asset: Asset,
        amount: int,
        script: DepositScript,
        mint_tx: str,
    ) -> None:
        address = script.address("regtest")
        block = self.bitcoind.getrawtransaction(txid, True)["blockhash"]
        height = self.bitcoind.getblockheader(block)["height"]
        for member in self.members:
            with member.sessions.begin() as session:
                ledger = Ledger(session)
                recipient = "0x" + script.recipient.hex()
                ledger.deposit_addresses.add(address, script.witness_script.hex(), recipient)
                deposit = ledger.deposits.record_seen(
                    txid=txid,
                    vout=vout,
                    asset=asset,
                    amount=amount,
                    deposit_address=address,
                    block_height=height,
                    block_hash=block,
                    confirmations=6,
                    omni_property_id=self.property_id if asset == Asset.USDT else None,
                )
                ledger.deposits.move(deposit.id, DepositStatus.CONFIRMED)
                ledger.deposits.move(deposit.id, DepositStatus.ATTESTED)
                ledger.deposits.mark_minted(deposit.id, mint_tx, 1)

    def fund_reserve(self) -> None:
        """Top up the fee reserve: BTC paid to the vault change address."""
        self.bitcoind.fund(self.settings.change_address, Decimal(RESERVE_BTC))
        self.bitcoind.mine(1)

    async def audit(self, member: int = 0) -> list[Solvency]:
        """relayer.audit's invariant over member `member`'s ledger (what `sluice audit` runs)."""
        local = self.members[member]
        with local.sessions() as session:
            figures = read_ledger(Ledger(session), self.settings)
        return await Auditor(self.settings, 0).check(figures, local.rpc, local.node)

    def withdraw(self, user: LocalAccount, asset: Asset, amount: int, address: str) -> str:
        """Bridge.withdraw from `user`; returns the ledger id of the request."""
        return self.bridge.withdraw(user, asset, amount, address)

    async def step(self, mine: int = 1, *, empty: bool = False, release: bool = True) -> None:
        """Every member runs its withdrawal and release stages once; then blocks are mined
        (`empty` blocks leave the mempool alone, so a release stays unconfirmed)."""
        for member in self.members:
            while await member.withdrawals.execute():
                pass
        if release:
            for member in self.members:
                await member.releases.execute()
        if mine:
            if empty:
                address = self.bitcoind.new_address()
                for _ in range(mine):
                    self.bitcoind.rpc("generateblock", address, [])
            else:
                self.bitcoind.mine(mine)

    def coordinator(self) -> Member:
        tip = int(self.bitcoind.getblockcount())
        (member,) = (m for m in self.members if m.federation.is_coordinator(tip))
        return member

    def omni_balance(self, address: str) -> int:
        return omni_state(self.bitcoind).balance(address, self.property_id)


def _vout_paying(node: BitcoindNode, txid: str, address: str) -> int:
    outputs = node.getrawtransaction(txid, True)["vout"]
    (vout,) = (o["n"] for o in outputs if o["scriptPubKey"].get("address") == address)
    return int(vout)


def _accounts(path: Path) -> list[LocalAccount]:
    return [Account.from_key(entry["private_key"]) for entry in json.loads(path.read_text())]


@pytest.fixture(scope="module")
def sidechain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    process = NodeProcess(init_dev(tmp_path_factory.mktemp("node")), block_interval=BLOCK_INTERVAL)
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
async def harness(
    bitcoind: BitcoindNode, sidechain: NodeProcess, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Harness]:
    w3 = Web3(Web3.HTTPProvider(sidechain.url, request_kwargs={"timeout": 30}))
    chain_id = w3.eth.chain_id
    users = _accounts(sidechain.datadir / "dev-accounts.json")
    federation_accounts = _accounts(sidechain.datadir / "dev-federation.json")
    _fund_gas(w3, users[-1], federation_accounts, chain_id)
    bitcoin_keys = [PrivateKey() for _ in federation_accounts]
    property_id = issue_usdt(bitcoind, 10**15)
    settings = VaultSettings(
        federation_keys=tuple(k.public_key.format() for k in bitcoin_keys),
        threshold=THRESHOLD,
        network="regtest",
        usdt_property_id=property_id,
        policy=POLICY,
    )
    rules = SpendRules(usdt_property_id=property_id)
    ports = [free_port() for _ in federation_accounts]
    peers = [
        Peer(a.address.lower(), f"http://127.0.0.1:{p}")
        for a, p in zip(federation_accounts, ports, strict=True)
    ]
    domain = BridgeDomain(chain_id, BRIDGE_ADDRESS)
    members: list[Member] = []
    for index, (account, key) in enumerate(zip(federation_accounts, bitcoin_keys, strict=True)):
        sessions = ledger_sessions(sqlite_ledger(tmp_path_factory.mktemp(f"member{index}")))
        rpc = BitcoinRPC(bitcoind.rpc_url, user=bitcoind.rpc_user, password=bitcoind.rpc_password)
        node = NodeClient(sidechain.url)
        chain = BridgeChain(node, BRIDGE_ADDRESS, chain_id)
        keys = MemberKeys(index, key, account)
        checker = SpendChecker(settings, rules, rpc, chain.state_root)
        member = SigningMember(keys, sessions, rpc, checker, domain)
        others = [p for p in peers if p.address != keys.address]
        server = SigningServer(member, others, "127.0.0.1", ports[index])
        await server.start()
        client = PeerClient(keys)
        federation = Federation(member, others, client, THRESHOLD, ROTATION)
        vault = Vault(settings, sessions, rpc)
        members.append(
            Member(
                keys,
                sessions,
                rpc,
                node,
                vault,
                member,
                federation,
                client,
                server,
                WithdrawalStage(
                    WINDOW,
                    sessions,
                    rpc,
                    chain,
                    checker,
                    federation,
                ),
                ReleaseStage(
                    CONFIRMATIONS,
                    rules,
                    sessions,
                    rpc,
                    vault,
                    federation,
                    chain,
                ),
                CommitmentStage(rules, sessions, rpc, vault, federation, chain),
            )
        )
    harness = Harness(
        bitcoind,
        sidechain,
        w3,
        members,
        bitcoin_keys,
        federation_accounts,
        users[:-1],
        property_id,
        chain_id,
        rules,
        settings,
    )
    harness.fund_reserve()
    try:
        yield harness
    finally:
        for member in members:
            await member.server.stop()
            await member.client.close()
            await member.rpc.close()
            await member.node.close()


def _fund_gas(w3: Web3, funder: LocalAccount, accounts: list[LocalAccount], chain_id: int) -> None:
    """Dev federation keys start with no sidechain balance: give them gas for Bridge calls."""
    nonce = w3.eth.get_transaction_count(funder.address)
    hashes = []
    for offset, account in enumerate(accounts):
        tx = {
            "to": account.address,
            "value": 10**18,
            "gas": 21_000,
            "nonce": nonce + offset,
            "maxFeePerGas": w3.eth.gas_price * 2,
            "maxPriorityFeePerGas": 0,
            "chainId": chain_id,
        }
        hashes.append(w3.eth.send_raw_transaction(funder.sign_transaction(tx).raw_transaction))
    for tx_hash in hashes:
        w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)


async def settle(harness: Harness, done: Any, *, steps: int = 60, empty: bool = False) -> None:
    """Step the federation (mining a block each time) until `done()` holds."""
    for _ in range(steps):
        if done():
            return
        await harness.step(empty=empty)
        await asyncio.sleep(0)
    assert done(), "the federation did not get there"
