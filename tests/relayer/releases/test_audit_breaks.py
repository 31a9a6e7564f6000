"""`sluice audit` fails when the bridge is broken on purpose: on the Bitcoin side (two members'
keys steal a vault coin) and on the sidechain side (two members attest a USDT deposit Bitcoin
never saw). This module has a stack of its own: it leaves the bridge insolvent."""

import secrets

import pytest
from bitcoin.core import CMutableTransaction, CMutableTxIn, CMutableTxOut, COutPoint, lx
from bitcoin.core.script import CScript
from eth_utils import to_checksum_address

from bridge.bitcoin.deposit_script import DepositScript
from bridge.bitcoin.deposit_spend import sign_federation_input
from bridge.ledger import Asset, DepositStatus
from relayer.testing import FederationRig
from sidechain.attestation import Attestation, sign_attestation
from sidechain.genesis import DEV_CHAIN_ID
from sidechain.predeploys import BRIDGE_ADDRESS
from sidechain.system_tx import ASSET_USDT
from tests.relayer.releases.conftest import assert_audit_holds, fund_users, new_user
from tests.relayer.support import Bridge

pytestmark = pytest.mark.xdist_group("relayer-audit-breaks")
STOLEN_FEE = 2_000
FAKE_USDT = 777_000_000


def steal_a_vault_coin(federation: FederationRig) -> int:
    """Two members' Bitcoin keys spend a minted BTC deposit to a wallet address, outside any
    release; the sats the vault lost."""
    minted = federation.read(
        1,
        lambda ledger: [
            (d.txid, d.vout, d.amount, ledger.deposit_addresses.get(d.deposit_address))
            for d in ledger.deposits.with_status(DepositStatus.MINTED)
            if d.asset == Asset.BTC
        ],
    )
    chain = federation.bitcoind
    txid, vout, amount, row = next(m for m in minted if chain.gettxout(m[0], m[1]) is not None)
    assert row is not None
    deposit = DepositScript.parse(bytes.fromhex(row.witness_script))
    thief = bytes.fromhex(chain.validateaddress(chain.new_address())["scriptPubKey"])
    tx = CMutableTransaction(
        [CMutableTxIn(COutPoint(lx(txid), vout))],
        [CMutableTxOut(amount - STOLEN_FEE, CScript(thief))],
        nVersion=2,
    )
    keys = [member.bitcoin for member in federation.keys[:2]]
    sign_federation_input(tx, 0, amount, deposit, keys)
    chain.send_raw(tx.serialize().hex())
    chain.mine(1)
    return amount


def mint_usdt_bitcoin_never_saw(federation: FederationRig, bridge: Bridge) -> str:
    """Two members sign an attestation of a USDT deposit that is not on Bitcoin; the Bridge mints
    it. Returns the recipient."""
    recipient = to_checksum_address(secrets.token_bytes(20))
    fake = Attestation(
        secrets.token_bytes(32), 0, ASSET_USDT, FAKE_USDT, bytes.fromhex(recipient[2:])
    )
    body = {
        "txid": "0x" + fake.txid.hex(),
        "vout": "0x0",
        "asset": "USDT",
        "amount": hex(FAKE_USDT),
        "recipient": recipient,
    }
    for keys in federation.keys[:2]:
        signature = sign_attestation(fake, keys.evm_private_key, DEV_CHAIN_ID, BRIDGE_ADDRESS)
        federation.rpc("sluice_submitAttestation", body, "0x" + signature.hex())
    federation.wait_until(lambda: bridge.usdt_balance(recipient) == FAKE_USDT)
    return recipient


def test_the_audit_fails_when_the_bridge_is_broken_on_either_side(
    federation: FederationRig, bridge: Bridge
) -> None:
    user = new_user()
    fund_users(federation, bridge, btc={user: 30_000_000}, usdt={user: 500_000_000})
    report = assert_audit_holds(federation)
    assert report["USDT"]["terms"]["sidechain: USDT totalSupply()"] == 500_000_000

    stolen = steal_a_vault_coin(federation)
    status, report = federation.audit(1)
    assert status == 1
    btc = report["BTC"]
    assert btc["holds"] is False and btc["unbacked"] == stolen, btc
    assert any("did not sign" in problem for problem in btc["problems"])
    assert report["USDT"]["holds"] is True

    mint_usdt_bitcoin_never_saw(federation, bridge)
    status, report = federation.audit(1)
    assert status == 1
    usdt = report["USDT"]
    assert usdt["holds"] is False and usdt["unbacked"] == FAKE_USDT, usdt
    assert report["BTC"]["unbacked"] == stolen  # the first break is still there


def test_the_audit_prints_every_term_and_the_change_address(federation: FederationRig) -> None:
    done = federation.sluice("audit", "--config", str(federation.config_path(2)))
    assert done.returncode in (0, 1), done.stderr
    assert f"vault change address (fee reserve top-ups): {federation.vault.change_address}" in (
        done.stdout
    )
    for line in ("BTC: ", "USDT: ", "fee reserve", "unbacked supply", "withdrawals in flight"):
        assert line in done.stdout
