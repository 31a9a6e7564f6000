"""Withdrawals end to end with `sluice relayer run` processes: a regtest bitcoind of the module's
own (with test USDT), a `sluice node run`, and a 2-of-3 federation (depth 2, window 2 blocks).

The vault is funded the way users fund it: deposits to addresses the members know, found by the
relayers' deposit loops, attested and minted by the node; the fee reserve is topped up at the
vault change address. Users are fresh EVM accounts holding what their deposits minted, and they
withdraw with web3.py. Every module here has its own stack and xdist group.
"""

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from regtest.node import BitcoindNode
from regtest.omni import issue_usdt, send_usdt
from relayer.testing import FederationRig, FederationSettings, pay_btc
from sluice.config import VaultConfig
from tests.relayer.support import Bridge

DEPTH = 2
WINDOW = 2
RESERVE_BTC = "0.02"
USDT_ISSUED = 10**16
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
    rig = FederationRig(tmp_path_factory.mktemp("federation"), chain, settings)
    rig.fund_reserve(RESERVE_BTC)
    rig.start()
    try:
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
