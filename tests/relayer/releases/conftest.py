"""Withdrawals end to end with `sluice relayer run` processes: a regtest bitcoind of the module's
own (with test USDT), a `sluice node run`, and a 2-of-3 federation (depth 2, window 2 blocks).

The vault is funded the way users fund it: deposits to addresses the members know, found by the
relayers' deposit loops, attested and minted by the node; the fee reserve is topped up at the
vault change address. Users are fresh EVM accounts holding what their deposits minted, and they
withdraw with web3.py. Every module here has its own stack and xdist group.
"""

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from bitcoin.core import CMutableTransaction, CMutableTxIn, CMutableTxOut, COutPoint, lx
from bitcoin.core.script import CScript
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3 import Web3

from bridge.bitcoin.blocks import to_sats
from bridge.bitcoin.deposit_script import DepositScript
from bridge.bitcoin.deposit_spend import sign_federation_input
from bridge.bitcoin.errors import BitcoinRPCError
from bridge.ledger import Asset, DepositStatus
from regtest.node import BitcoindNode
from regtest.omni import issue_usdt, send_usdt
from regtest.util import wait_until
from relayer.testing import FederationRig, FederationSettings, pay_btc
from sidechain.attestation import Attestation, sign_attestation
from sidechain.genesis import DEV_CHAIN_ID
from sidechain.predeploys import BRIDGE_ADDRESS
from sluice.config import VaultConfig
from tests.relayer.support import Bridge

DEPTH = 2
WINDOW = 2
RESERVE_BTC = "0.02"
USDT_ISSUED = 10**16
STOLEN_FEE = 2_000
POLICY = VaultConfig(rotation_blocks=4, rbf_after_blocks=2, commitment_interval=40)


@pytest.fixture(scope="module")
def federation(
    chain: BitcoindNode, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FederationRig]:
    start = int(chain.getblockcount())
    property_id = issue_usdt(chain, USDT_ISSUED)
    settings = FederationSettings(
        confirmations=DEPTH,
        challenge_window_blocks=WINDOW,
        usdt_property_id=property_id,
        scan_start_height=start,
        vault=POLICY,
    )
    with running_rig(chain, tmp_path_factory.mktemp("federation"), settings) as rig:
        yield rig


@contextmanager
def running_rig(
    chain: BitcoindNode, workdir: Path, settings: FederationSettings
) -> Iterator[FederationRig]:
    """A federation rig over `chain` with its fee reserve, started (its watchers too, if it
    has any); closed at the end."""
    rig = FederationRig(workdir, chain, settings)
    rig.fund_reserve(RESERVE_BTC)
    rig.start()
    try:
        rig.start_watchers()
        yield rig
    finally:
        rig.close()


@pytest.fixture(scope="module")
def bridge(federation: FederationRig) -> Bridge:
    return Bridge(Web3(Web3.HTTPProvider(federation.node_url, request_kwargs={"timeout": 60})))


def new_user() -> LocalAccount:
    return Account.from_key(secrets.token_bytes(32))


def fund_users(
    federation: FederationRig,
    bridge: Bridge,
    btc: dict[LocalAccount, int],
    usdt: dict[LocalAccount, int] | None = None,
) -> None:
    """Deposits on Bitcoin (sats, USDT units) for each user, minted through the relayers."""
    usdt = usdt or {}
    chain = federation.bitcoind
    users = {*btc, *usdt}
    addresses = federation.register_addresses([u.address for u in users])
    before = {u: (bridge.balance_sats(u.address), bridge.usdt_balance(u.address)) for u in users}
    pay_btc(chain, {addresses[u.address]: sats for u, sats in btc.items()})
    for user, units in usdt.items():
        send_usdt(
            chain,
            addresses[user.address],
            units,
            property_id=federation.settings.usdt_property_id,
        )
        chain.mine(1)  # the issuer's sends chain through its change

    def minted() -> bool:
        return all(
            bridge.balance_sats(u.address) == before[u][0] + btc.get(u, 0)
            and bridge.usdt_balance(u.address) == before[u][1] + usdt.get(u, 0)
            for u in before
        )

    federation.mine_until(minted)


def assert_audit_holds(federation: FederationRig, member_id: int = 1) -> dict[str, Any]:
    """`sluice audit` over member `member_id` passes (once its ledger caught up); the report."""
    federation.wait_until(lambda: federation.audit(member_id)[0] == 0, timeout=60)
    status, report = federation.audit(member_id)
    assert status == 0, report
    return report


def steal_a_vault_coin(federation: FederationRig, at_least: int = 0) -> tuple[str, int]:
    """Two members' Bitcoin keys spend a vault coin (a minted BTC deposit, or a coin at the
    change address; of `at_least` sats or more) to a wallet address, outside any release, and
    it is mined: (its txid, the sats the vault lost)."""
    minted = federation.read(
        1,
        lambda ledger: [
            (d.txid, d.vout, d.amount, ledger.deposit_addresses.get(d.deposit_address))
            for d in ledger.deposits.with_status(DepositStatus.MINTED)
            if d.asset == Asset.BTC
        ],
    )
    chain = federation.bitcoind
    coins = [
        (txid, vout, amount, DepositScript.parse(bytes.fromhex(row.witness_script)))
        for txid, vout, amount, row in minted
        if row is not None and chain.gettxout(txid, vout) is not None
    ]
    change = federation.vault.change
    coins += [(txid, vout, sats, change) for txid, vout, sats in change_coins(federation)]
    txid, vout, amount, deposit = max(coins, key=lambda coin: coin[2])
    assert amount >= at_least, f"no vault coin of {at_least} sats: {coins}"
    thief = bytes.fromhex(chain.validateaddress(chain.new_address())["scriptPubKey"])
    tx = CMutableTransaction(
        [CMutableTxIn(COutPoint(lx(txid), vout))],
        [CMutableTxOut(amount - STOLEN_FEE, CScript(thief))],
        nVersion=2,
    )
    keys = [member.bitcoin for member in federation.keys[:2]]
    sign_federation_input(tx, 0, amount, deposit, keys)
    stolen = chain.send_raw(tx.serialize().hex())
    chain.mine(1)
    return stolen, amount


def change_coins(federation: FederationRig) -> list[tuple[str, int, int]]:
    """(txid, vout, sats) of the confirmed coins at the vault change address (scantxoutset,
    asked again while a relayer's own scan is under way)."""
    found: list[dict[str, Any]] = []

    def scanned() -> bool:
        try:
            reply = federation.bitcoind.rpc(
                "scantxoutset", "start", [f"addr({federation.vault.change_address})"]
            )
        except BitcoinRPCError:
            return False  # "Scan already in progress"
        found.extend(reply["unspents"])
        return True

    wait_until(scanned, timeout=30, poll=0.2)
    return [(u["txid"], int(u["vout"]), to_sats(u["amount"])) for u in found]


def attest_bitcoin_never_saw(federation: FederationRig, asset: int, amount: int) -> Attestation:
    """Members 1 and 2's keys attest a deposit of `amount` (sats or USDT units) that is not on
    Bitcoin, to a fresh recipient; the Bridge mints it. The attestation."""
    recipient = secrets.token_bytes(20)
    fake = Attestation(secrets.token_bytes(32), 0, asset, amount, recipient)
    body = {
        "txid": "0x" + fake.txid.hex(),
        "vout": "0x0",
        "asset": ["BTC", "USDT"][asset],
        "amount": hex(amount),
        "recipient": to_checksum_address(recipient),
    }
    for keys in federation.keys[:2]:
        signature = sign_attestation(fake, keys.evm_private_key, DEV_CHAIN_ID, BRIDGE_ADDRESS)
        federation.rpc("sluice_submitAttestation", body, "0x" + signature.hex())
    return fake
