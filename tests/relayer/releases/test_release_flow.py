"""Withdrawals on the sidechain become release transactions on Bitcoin, batched per asset, signed
2-of-3 by `sluice relayer run` processes over a vault their deposit loops funded; a stuck
release is replaced by fee; `sluice audit` holds after each (fees come from the fee reserve)."""

import logging
from collections import Counter

import pytest

from bridge.bitcoin.blocks import to_sats
from bridge.bitcoin.omni.payload import payload_of_outputs
from bridge.ledger import Asset, CommitmentStatus, Ledger, ReleaseStatus, WithdrawalStatus
from relayer.release_check import decode_commitment
from relayer.testing import FederationRig
from tests.relayer.releases.conftest import WINDOW, assert_audit_holds, fund_users, new_user
from tests.relayer.support import REFUNDED, RELEASED, Bridge

log = logging.getLogger(__name__)
pytestmark = pytest.mark.xdist_group("relayer-release-flow")
USDT_DEPOSIT = 2_000_000_000  # 20 USDT per holder
USDT_WITHDRAWAL = 300_000_000


def omni_sends(federation: FederationRig, txid: str) -> int:
    """How many Omni payloads a transaction carries."""
    tx = federation.bitcoind.getrawtransaction(txid, True)
    scripts = [bytes.fromhex(out["scriptPubKey"]["hex"]) for out in tx["vout"]]
    return sum(payload_of_outputs([script]) is not None for script in scripts)


@pytest.mark.timeout(600)
def test_twenty_withdrawals_are_released_in_batches_with_exact_amounts(
    federation: FederationRig, bridge: Bridge
) -> None:
    """BTC and USDT withdrawals are paid after their windows, to the right addresses, exactly
    what the Bridge recorded (the amount asked less its withdrawal fee).
    The BTC ones go out together; each release carries at most one USDT payout (an Omni
    simple send has one reference output), so the six USDT ones take six releases, sent from
    the three vault addresses holding USDT in parallel. An undecodable address, or an amount a
    Bitcoin output cannot carry (dust), is refunded on the sidechain instead."""
    chain = federation.bitcoind
    users = [new_user() for _ in range(6)]
    holders = users[:3]
    fund_users(
        federation,
        bridge,
        btc={user: 50_000_000 for user in users},
        usdt={holder: USDT_DEPOSIT for holder in holders},
    )
    log.info("vault funded by deposits: 3 BTC on six addresses, 60 USDT on three")

    kinds = ["bech32", "p2sh-segwit", "legacy", "bech32m"]
    wanted: dict[str, tuple[Asset, int, str]] = {}
    for n in range(14):
        address = chain.new_address(kinds[n % len(kinds)])
        withdrawal = bridge.withdraw(users[3 + n % 3], Asset.BTC, 20_000 + 1_111 * n, address)
        wanted[withdrawal] = (Asset.BTC, bridge.payout(withdrawal), address)
    for n in range(6):
        address = chain.new_address()
        withdrawal = bridge.withdraw(holders[n % 3], Asset.USDT, USDT_WITHDRAWAL + n, address)
        wanted[withdrawal] = (Asset.USDT, bridge.payout(withdrawal), address)
    bad = bridge.withdraw(users[4], Asset.BTC, 50_000, "bcrt1qnotanaddressatall00000")
    dust = bridge.withdraw(users[4], Asset.BTC, 500, chain.new_address())
    log.info("20 withdrawals requested, one to a bad address and one below the dust limit")

    def all_done() -> bool:
        statuses = [bridge.status(w)[0] for w in wanted]
        refunds = [bridge.status(w)[0] for w in (bad, dust)]
        return all(s == RELEASED for s in statuses) and refunds == [REFUNDED, REFUNDED]

    federation.mine_until(all_done, timeout=420)

    releases: dict[str, Counter[Asset]] = {}
    for withdrawal, (asset, amount, address) in wanted.items():
        _, txid = bridge.status(withdrawal)
        releases.setdefault(txid, Counter())[asset] += 1
        tx = chain.getrawtransaction(txid, True)
        assert tx["confirmations"] >= 1
        mined_at = chain.getblockheader(tx["blockhash"])["height"]
        opened, closes = federation.read(
            1,
            lambda ledger, w=withdrawal: (
                ledger.withdrawals.require(w).window_opened_at_height,
                ledger.withdrawals.require(w).window_closes_at_height,
            ),
        )
        assert closes - opened == WINDOW, "the window is counted in Bitcoin blocks"
        assert mined_at > closes, "released inside its window"
        paying = [o for o in tx["vout"] if o["scriptPubKey"].get("address") == address]
        assert len(paying) == 1
        if asset == Asset.BTC:
            assert to_sats(paying[0]["value"]) == amount
    for holder_address, amount in (
        (address, amount) for asset, amount, address in wanted.values() if asset == Asset.USDT
    ):
        assert federation.omni_balance(holder_address) == amount
    btc_batches = sorted(c[Asset.BTC] for c in releases.values() if c[Asset.BTC])
    usdt_per_release = [c[Asset.USDT] for c in releases.values()]
    log.info(
        "BTC payouts per release: %s; USDT payouts per release: %s", btc_batches, usdt_per_release
    )
    assert max(btc_batches) >= 8, f"BTC withdrawals were not batched: {btc_batches}"
    assert max(usdt_per_release) == 1 and sum(usdt_per_release) == 6
    assert all(
        omni_sends(federation, txid) == counts[Asset.USDT] for txid, counts in releases.items()
    )
    heights = Counter(
        chain.getrawtransaction(txid, True)["blockhash"]
        for txid, counts in releases.items()
        if counts[Asset.USDT]
    )
    assert max(heights.values()) >= 2, "USDT releases from different addresses went one by one"

    for member in (1, 2, 3):

        def settled(ledger: Ledger) -> tuple[set[WithdrawalStatus], list[WithdrawalStatus]]:
            paid = {ledger.withdrawals.require(w).status for w in wanted}
            return paid, [ledger.withdrawals.require(w).status for w in (bad, dust)]

        paid, refunded = federation.read(member, settled)
        assert paid <= {WithdrawalStatus.RELEASED, WithdrawalStatus.CONFIRMED}
        assert refunded == [WithdrawalStatus.REFUNDED] * 2
    report = assert_audit_holds(federation)
    assert report["BTC"]["terms"]["fee reserve: - fees of federation spends"] > 0
    assert report["BTC"]["terms"]["fee reserve: - sats carried out by USDT payouts"] == 6_000


def test_a_stuck_release_is_bumped_by_rbf_and_the_replacement_is_what_the_bridge_records(
    federation: FederationRig, bridge: Bridge
) -> None:
    chain = federation.bitcoind
    user = new_user()
    fund_users(federation, bridge, btc={user: 10_000_000})
    address = chain.new_address()
    withdrawal = bridge.withdraw(user, Asset.BTC, 55_555, address)
    payout = bridge.payout(withdrawal)

    def replaced() -> list[tuple[str, str]]:
        def find(ledger: Ledger) -> list[tuple[str, str]]:
            return [
                (r.txid, r.replaced_by or "")
                for r in ledger.releases.with_status(ReleaseStatus.REPLACED)
                if withdrawal in {w.id for w in ledger.releases.withdrawals(r.txid)}
            ]

        return federation.read(1, find)

    # Empty blocks from the request on: the window closes, the release goes out and waits in
    # the mempool until the coordinator bumps its fee.
    federation.mine_until(lambda: bool(replaced()), empty=True)
    ((old_txid, new_txid),) = replaced()
    mempool = chain.getrawmempool()
    assert new_txid in mempool and old_txid not in mempool
    federation.mine_until(lambda: bridge.status(withdrawal) == (RELEASED, new_txid))
    tx = chain.getrawtransaction(new_txid, True)
    assert [
        to_sats(o["value"]) for o in tx["vout"] if o["scriptPubKey"].get("address") == address
    ] == [payout]
    rates = federation.read(
        1,
        lambda ledger: (
            ledger.releases.require(old_txid).fee_rate,
            ledger.releases.require(new_txid).fee_rate,
        ),
    )
    assert rates[1] > rates[0]
    assert_audit_holds(federation)


def test_state_roots_are_anchored_every_k_blocks_and_confirmed(
    federation: FederationRig,
) -> None:
    """The commitment stage anchors the state root at each multiple of K (40 here) on Bitcoin;
    the anchor decodes back to the node's state root at that height."""

    def confirmed() -> list[tuple[int, str, str | None]]:
        return federation.read(
            1,
            lambda ledger: [
                (c.sidechain_height, c.state_root, c.bitcoin_txid)
                for c in ledger.commitments.with_status(CommitmentStatus.CONFIRMED)
            ],
        )

    federation.mine_until(lambda: bool(confirmed()))
    height, root, txid = confirmed()[0]
    assert height % 40 == 0 and txid is not None
    tx = federation.bitcoind.getrawtransaction(txid, True)
    decoded = [decode_commitment(bytes.fromhex(o["scriptPubKey"]["hex"])) for o in tx["vout"]]
    (anchored,) = [d for d in decoded if d is not None]
    block = federation.rpc("eth_getBlockByNumber", hex(height), False)
    assert (
        anchored == (height, bytes.fromhex(block["stateRoot"][2:])) and root == block["stateRoot"]
    )
    assert_audit_holds(federation)
