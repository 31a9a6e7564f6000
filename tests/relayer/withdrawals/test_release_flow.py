"""Withdrawals on the sidechain become batched release transactions on Bitcoin, m-of-n signed.

Regtest: a real bitcoind, a real `sluice node run`, three members (2-of-3) with their own
ledgers talking over loopback HTTP. Each step every member runs its stages, then a block is mined.
"""

import logging
from collections import Counter

from bridge.bitcoin.blocks import to_sats
from bridge.ledger import Asset, Ledger, WithdrawalStatus
from tests.relayer.withdrawals.conftest import Harness, settle

log = logging.getLogger(__name__)
RELEASED, REFUNDED = 2, 3


def bridge_status(harness: Harness, withdrawal_id: str) -> tuple[int, str]:
    fields = harness.bridge.functions.withdrawals(int(withdrawal_id, 16)).call()
    return fields[3], fields[4].hex()


async def test_twenty_withdrawals_are_released_in_batches_with_exact_amounts(
    harness: Harness,
) -> None:
    """BTC and USDT withdrawals are paid after their windows, to the right addresses, exactly;
    the Bridge learns each release; an undecodable address, or an amount a Bitcoin output
    cannot carry (dust), is refunded on the sidechain instead."""
    node = harness.bitcoind
    for n in range(3):
        harness.fund_vault_btc("0.5", harness.users[n].address)
    usdt_holders = harness.users[:3]
    for user in usdt_holders:
        harness.fund_vault_usdt(2_000_000_000, user)
    log.info("vault funded: 1.5 BTC and 60 USDT on six deposit addresses")

    kinds = ["bech32", "p2sh-segwit", "legacy", "bech32m"]
    wanted: dict[str, tuple[Asset, int, str]] = {}
    for n in range(14):
        address = node.new_address(kinds[n % len(kinds)])
        amount = 20_000 + 1_111 * n
        wanted[harness.withdraw(harness.users[3 + n % 5], Asset.BTC, amount, address)] = (
            Asset.BTC,
            amount,
            address,
        )
    for n in range(6):
        address = node.new_address()
        amount = 300_000_000 + n
        wanted[harness.withdraw(usdt_holders[n % 3], Asset.USDT, amount, address)] = (
            Asset.USDT,
            amount,
            address,
        )
    bad = harness.withdraw(harness.users[4], Asset.BTC, 50_000, "bcrt1qnotanaddressatall00000")
    dust = harness.withdraw(harness.users[4], Asset.BTC, 500, node.new_address())
    log.info("20 withdrawals, one to a bad address and one below the dust limit requested")

    def all_done() -> bool:
        statuses = [bridge_status(harness, w)[0] for w in wanted]
        refunds = [bridge_status(harness, w)[0] for w in (bad, dust)]
        return all(s == RELEASED for s in statuses) and refunds == [REFUNDED, REFUNDED]

    await settle(harness, all_done, steps=80)

    txids = Counter()
    for withdrawal_id, (asset, amount, address) in wanted.items():
        _, btc_txid = bridge_status(harness, withdrawal_id)
        txids[btc_txid] += 1
        tx = node.getrawtransaction(btc_txid, True)
        assert tx["confirmations"] >= 1
        mined_at = node.getblockheader(tx["blockhash"])["height"]
        with harness.members[0].sessions() as session:
            window_end = Ledger(session).withdrawals.require(withdrawal_id).window_closes_at_height
        assert window_end is not None and mined_at > window_end, "released inside its window"
        paying = [o for o in tx["vout"] if o["scriptPubKey"].get("address") == address]
        assert len(paying) == 1
        if asset == Asset.BTC:
            assert to_sats(paying[0]["value"]) == amount
        else:
            assert harness.omni_balance(address) == amount
    assert len(txids) < len(wanted), "withdrawals were not batched"
    assert max(txids.values()) >= 8, f"batches: {sorted(txids.values())}"
    for member in harness.members:
        with member.sessions() as session:
            ledger = Ledger(session)
            for refunded in (bad, dust):
                assert ledger.withdrawals.require(refunded).status == WithdrawalStatus.REFUNDED
            statuses = {ledger.withdrawals.require(w).status for w in wanted}
            assert statuses <= {WithdrawalStatus.CONFIRMED, WithdrawalStatus.RELEASED}
