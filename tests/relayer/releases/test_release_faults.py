"""Faults in the withdrawal flow with `sluice relayer run` processes (2-of-3, real node, real
bitcoind): a member killed at each step boundary and restarted, one member down for good,
bitcoind restarted mid-flow. Nothing is lost, nothing is released or refunded twice.

A crash point the coordinator alone reaches (building, signing, broadcasting, telling the
Bridge, refunding, anchoring) is set on every member, so whoever coordinates dies there; the
others are then restarted without it. A point every member reaches is set on one.
"""

import logging
from collections.abc import Iterable

import pytest
from eth_account.signers.local import LocalAccount

from bridge.bitcoin.blocks import to_sats
from bridge.bitcoin.errors import BitcoinRPCError
from bridge.ledger import Asset, ClaimKind, CommitmentStatus, Ledger, ReleaseStatus
from bridge.ledger import WithdrawalStatus as W
from regtest.util import wait_until
from relayer.local import RelayerProcess
from relayer.release_check import decode_commitment
from relayer.testing import FederationRig
from tests.relayer.releases.conftest import assert_audit_holds, fund_users, new_user
from tests.relayer.support import REFUNDED, RELEASED, Bridge

log = logging.getLogger(__name__)
pytestmark = pytest.mark.xdist_group("relayer-release-faults")
CRASHED = 137


@pytest.fixture(scope="module")
def user(federation: FederationRig, bridge: Bridge) -> LocalAccount:
    """A user holding 1 BTC on the sidechain, minted through the relayers."""
    account = new_user()
    fund_users(federation, bridge, btc={account: 100_000_000})
    return account


def crash(federation: FederationRig, point: str, members: Iterable[int]) -> list[RelayerProcess]:
    """Restart `members` with `point` set; returns them (the caller makes one reach it)."""
    chosen = [federation.relayer(m) for m in members]
    for relayer in chosen:
        relayer.stop()
        relayer.start(crash_at=point)
    return chosen


def crashed(armed: list[RelayerProcess], point: str) -> RelayerProcess:
    """The member that died at `point` (exit 137, and its log says where)."""
    wait_until(lambda: any(r.returncode == CRASHED for r in armed), 10)
    dead = next(r for r in armed if r.returncode == CRASHED)
    assert f"crash_at={point}" in dead.log_text()
    return dead


def restart(armed: list[RelayerProcess]) -> None:
    """Every armed member started again, without the crash point."""
    for relayer in armed:
        if relayer.running:
            relayer.stop()
        relayer.start()


def known_to_bitcoind(federation: FederationRig, txid: str) -> bool:
    """bitcoind has the transaction, in its mempool or a block (regtest keeps a txindex)."""
    try:
        federation.bitcoind.rpc("getrawtransaction", txid, False, wallet=False)
    except BitcoinRPCError:
        return False
    return True


def paid_once(federation: FederationRig, address: str, payout: int) -> bool:
    """Bitcoin paid `address` exactly `payout` sats, in one output of one transaction."""
    received = federation.bitcoind.rpc("listreceivedbyaddress", 0, True, True, address)
    return (
        len(received) == 1
        and to_sats(received[0]["amount"]) == payout
        and len(received[0]["txids"]) == 1
    )


def ledgers_agree(federation: FederationRig, withdrawal: str, status: W) -> bool:
    """Every member's ledger holds `withdrawal` in `status`."""
    for member in (1, 2, 3):
        found = federation.read(member, lambda ledger: ledger.withdrawals.get(withdrawal))
        if found is None or found.status != status:
            return False
    return True


def coordinator_dies_releasing(
    federation: FederationRig, bridge: Bridge, user: LocalAccount, point: str, sats: int
) -> tuple[list[RelayerProcess], RelayerProcess, str, str]:
    """Every member armed with `point`, a BTC withdrawal mined until the coordinator dies there:
    (the armed members, the dead one, the withdrawal id, its Bitcoin address)."""
    armed = crash(federation, point, (1, 2, 3))
    address = federation.bitcoind.new_address()
    withdrawal = bridge.withdraw(user, Asset.BTC, sats, address)
    federation.mine_until(lambda: any(r.returncode == CRASHED for r in armed))
    return armed, crashed(armed, point), withdrawal, address


def finish(federation: FederationRig, bridge: Bridge, withdrawal: str, address: str) -> str:
    """Mine until the Bridge and every ledger hold the release; it paid once. Its txid."""
    federation.mine_until(
        lambda: (
            bridge.status(withdrawal)[0] == RELEASED
            and ledgers_agree(federation, withdrawal, W.CONFIRMED)
        )
    )
    assert paid_once(federation, address, bridge.payout(withdrawal))
    txid = bridge.status(withdrawal)[1]
    for member in (1, 2, 3):
        paid_by = federation.read(
            member, lambda ledger: ledger.withdrawals.require(withdrawal).release_txid
        )
        assert paid_by == txid
    return txid


@pytest.mark.parametrize("point", ["after_release_signed", "after_release_broadcast"])
def test_a_coordinator_killed_around_the_broadcast_sends_the_same_release_once(
    federation: FederationRig, bridge: Bridge, user: LocalAccount, point: str
) -> None:
    armed, dead, withdrawal, address = coordinator_dies_releasing(
        federation, bridge, user, point, 40_000
    )

    def recorded(ledger: Ledger) -> list[tuple[str, ReleaseStatus]]:
        return [
            (r.txid, r.status)
            for r in ledger.releases.with_status(*ReleaseStatus)
            if withdrawal in {w.id for w in ledger.releases.withdrawals(r.txid)}
        ]

    ((signed_txid, status),) = federation.read(dead.member_id, recorded)
    assert status in (ReleaseStatus.SIGNING, ReleaseStatus.SIGNED, ReleaseStatus.BROADCAST)
    assert known_to_bitcoind(federation, signed_txid) == (point == "after_release_broadcast")
    restart(armed)
    txid = finish(federation, bridge, withdrawal, address)
    assert txid == signed_txid, "a second release was built instead of resuming the first"
    assert_audit_holds(federation)


def test_a_coordinator_killed_after_telling_the_bridge_marks_it_told_once(
    federation: FederationRig, bridge: Bridge, user: LocalAccount
) -> None:
    armed, dead, withdrawal, address = coordinator_dies_releasing(
        federation, bridge, user, "after_release_told", 41_000
    )
    assert bridge.status(withdrawal)[0] == RELEASED  # told before the crash
    restart(armed)
    txid = finish(federation, bridge, withdrawal, address)
    # Its next turn as coordinator finds the Bridge told already, and marks it told here.
    federation.mine_until(
        lambda: (
            federation.read(
                dead.member_id, lambda ledger: ledger.releases.require(txid).sidechain_told_at
            )
            is not None
        )
    )
    assert_audit_holds(federation)


def test_a_coordinator_killed_after_a_refund_refunds_once(
    federation: FederationRig, bridge: Bridge, user: LocalAccount
) -> None:
    point = "after_refund_sent"
    armed = crash(federation, point, (1, 2, 3))
    before = bridge.balance_sats(user.address)
    withdrawal = bridge.withdraw(user, Asset.BTC, 30_000, "bcrt1qnotanaddressatall00000")
    gas = before - 30_000 - bridge.balance_sats(user.address)  # what the withdraw call cost
    federation.mine_until(lambda: any(r.returncode == CRASHED for r in armed))
    crashed(armed, point)
    assert bridge.status(withdrawal)[0] == REFUNDED  # refunded before the crash
    restart(armed)
    federation.mine_until(lambda: ledgers_agree(federation, withdrawal, W.REFUNDED))
    refunds = [
        e
        for e in bridge.contract.events.WithdrawalRefunded().get_logs(from_block=0)
        if e["args"]["withdrawal_id"] == int(withdrawal, 16)
    ]
    assert len(refunds) == 1
    assert bridge.balance_sats(user.address) == before - gas  # the whole amount back, once
    assert_audit_holds(federation)


def test_a_member_killed_after_recording_a_request_releases_it_once(
    federation: FederationRig, bridge: Bridge, user: LocalAccount
) -> None:
    point = "after_withdrawals_recorded"
    (armed,) = crash(federation, point, (2,))
    address = federation.bitcoind.new_address()
    withdrawal = bridge.withdraw(user, Asset.BTC, 42_000, address)
    wait_until(lambda: armed.returncode == CRASHED, 60)
    crashed([armed], point)
    assert federation.read(2, lambda ledger: ledger.withdrawals.get(withdrawal)) is not None
    restart([armed])
    finish(federation, bridge, withdrawal, address)
    history = federation.read(2, lambda ledger: ledger.audit.for_record("withdrawal", withdrawal))
    assert [entry.action for entry in history].count("created") == 1
    assert_audit_holds(federation)


def anchors_of(federation: FederationRig, height: int, since: int) -> list[str]:
    """The Bitcoin transactions (mined since block `since`) anchoring sidechain `height`."""
    chain = federation.bitcoind
    found = []
    for block_height in range(since, int(chain.getblockcount()) + 1):
        block = chain.getblock(chain.getblockhash(block_height), 2)
        for tx in block["tx"]:
            for out in tx["vout"]:
                decoded = decode_commitment(bytes.fromhex(out["scriptPubKey"]["hex"]))
                if decoded is not None and decoded[0] == height:
                    found.append(tx["txid"])
    return found


def confirmed_commitments(federation: FederationRig, member: int) -> dict[int, str | None]:
    return federation.read(
        member,
        lambda ledger: {
            c.sidechain_height: c.bitcoin_txid
            for c in ledger.commitments.with_status(CommitmentStatus.CONFIRMED)
        },
    )


@pytest.mark.parametrize(
    ("point", "members"),
    [
        ("after_commitment_signed", (1, 2, 3)),
        ("after_commitment_broadcast", (1, 2, 3)),
        ("after_commitment_confirmed", (3,)),
        ("after_commitment_recorded", (1, 2, 3)),
    ],
)
def test_a_member_killed_while_anchoring_a_state_root_anchors_it_once(
    federation: FederationRig, bridge: Bridge, point: str, members: tuple[int, ...]
) -> None:
    """The root is anchored once and recorded on the Bridge once (the ledger mirrors its one
    court claim, a row per signer)."""
    since = int(federation.bitcoind.getblockcount())
    before = set(confirmed_commitments(federation, 1))
    armed = crash(federation, point, members)
    federation.mine_until(lambda: any(r.returncode == CRASHED for r in armed), timeout=240)
    dead = crashed(armed, point)
    restart(armed)

    def new_anchor() -> int | None:
        fresh = sorted(
            set(confirmed_commitments(federation, dead.member_id))
            & set(confirmed_commitments(federation, 1)) - before
        )
        return fresh[0] if fresh else None

    federation.mine_until(lambda: new_anchor() is not None)
    height = new_anchor()
    assert height is not None
    assert len(anchors_of(federation, height, since)) == 1, "a state root anchored twice"

    def claims() -> list[tuple[str, str | None]]:
        return federation.read(
            dead.member_id,
            lambda ledger: [
                (c.operator, c.court_claim_id)
                for c in ledger.claims.for_subject(ClaimKind.STATE_COMMITMENT, str(height))
            ],
        )

    federation.mine_until(lambda: claims())
    assert len(claims()) >= federation.settings.threshold  # a row per signer
    assert len({court_id for _, court_id in claims()}) == 1, "a state root recorded twice"
    recorded = bridge.contract.functions.commitments(height).call().hex()
    assert "0x" + recorded == federation.read(
        1, lambda ledger: ledger.commitments.require(height).state_root
    )
    assert_audit_holds(federation)


def test_two_members_release_while_the_third_is_down_and_it_catches_up(
    federation: FederationRig, bridge: Bridge, user: LocalAccount
) -> None:
    """2-of-3: with member 3 killed for good the others release; back, it learns the release
    from them (relayer.gossip) and holds it in its ledger too."""
    federation.relayer(3).kill()
    try:
        address = federation.bitcoind.new_address()
        withdrawal = bridge.withdraw(user, Asset.BTC, 43_000, address)
        federation.mine_until(lambda: bridge.status(withdrawal)[0] == RELEASED, timeout=240)
        assert paid_once(federation, address, bridge.payout(withdrawal))
    finally:
        federation.relayer(3).start()
    txid = finish(federation, bridge, withdrawal, address)
    assert txid == bridge.status(withdrawal)[1]
    assert_audit_holds(federation, member_id=3)


def test_relayers_recover_when_bitcoind_restarts_mid_flow(
    federation: FederationRig, bridge: Bridge, user: LocalAccount
) -> None:
    address = federation.bitcoind.new_address()
    withdrawal = bridge.withdraw(user, Asset.BTC, 44_000, address)
    federation.mine_until(lambda: ledgers_agree(federation, withdrawal, W.WINDOW_OPEN))
    federation.bitcoind.restart()
    finish(federation, bridge, withdrawal, address)
    assert all(relayer.running for relayer in federation.relayers)
    assert_audit_holds(federation)
