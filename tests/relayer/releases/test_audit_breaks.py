"""`sluice audit` fails when the bridge is broken on purpose: on the Bitcoin side (two members'
keys steal a vault coin) and on the sidechain side (two members attest a USDT deposit Bitcoin
never saw). This module has a stack of its own: it leaves the bridge insolvent."""

import pytest
from eth_utils import to_checksum_address

from relayer.testing import FederationRig
from sidechain.system_tx import ASSET_USDT
from tests.relayer.releases.conftest import (
    assert_audit_holds,
    attest_bitcoin_never_saw,
    fund_users,
    new_user,
    steal_a_vault_coin,
)
from tests.relayer.support import Bridge

pytestmark = pytest.mark.xdist_group("relayer-audit-breaks")
FAKE_USDT = 777_000_000


def mint_usdt_bitcoin_never_saw(federation: FederationRig, bridge: Bridge) -> str:
    """Two members sign an attestation of a USDT deposit that is not on Bitcoin; the Bridge mints
    it. Returns the recipient."""
    fake = attest_bitcoin_never_saw(federation, ASSET_USDT, FAKE_USDT)
    recipient = to_checksum_address(fake.recipient)
    federation.wait_until(lambda: bridge.usdt_balance(recipient) == FAKE_USDT)
    return recipient


def test_the_audit_fails_when_the_bridge_is_broken_on_either_side(
    federation: FederationRig, bridge: Bridge
) -> None:
    user = new_user()
    fund_users(federation, bridge, btc={user: 30_000_000}, usdt={user: 500_000_000})
    report = assert_audit_holds(federation)
    assert report["USDT"]["terms"]["sidechain: USDT totalSupply()"] == 500_000_000

    _, stolen = steal_a_vault_coin(federation)
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
