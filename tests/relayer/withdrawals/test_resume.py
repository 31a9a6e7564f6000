"""A coordinator killed around the broadcast resumes the same release (never builds a second)."""

import pytest

from bridge.ledger import Asset, Ledger, ReleaseStatus, WithdrawalStatus
from relayer.release_build import Payout, build_spend
from relayer.release_check import SpendProposal
from relayer.signing import finalize
from tests.relayer.withdrawals.conftest import WINDOW, Harness, settle


@pytest.mark.parametrize("killed", ["after_release_signed", "after_release_broadcast"])
async def test_a_release_interrupted_before_it_is_recorded_as_sent_is_resumed_not_rebuilt(
    harness: Harness, killed: str
) -> None:
    harness.fund_vault_btc("0.2", harness.users[0].address)
    requested = []
    for n in range(3):
        address = harness.bitcoind.new_address()
        requested.append(
            (harness.withdraw(harness.users[7], Asset.BTC, 30_000 + n, address), address)
        )
    for _ in range(WINDOW + 1):
        await harness.step(release=False)
    coordinator = harness.coordinator()
    payouts = [
        Payout(
            w,
            Asset.BTC,
            30_000 + n,
            bytes.fromhex(harness.bitcoind.validateaddress(a)["scriptPubKey"]),
        )
        for n, (w, a) in enumerate(requested)
    ]
    coins = await coordinator.vault.coins()
    plan = build_spend(
        payouts, coins.funding, coordinator.vault.settings.change, 2_000, harness.rules
    )
    # The round completes, then the process dies before (or right after) the broadcast,
    # with nothing of it in its ledger.
    signed = await coordinator.federation.sign_spend(
        SpendProposal(plan.psbt, plan.payments, plan.fee_rate)
    )
    if killed == "after_release_broadcast":
        harness.bitcoind.send_raw(finalize(signed).serialize().hex())
    with coordinator.sessions() as session:
        assert Ledger(session).releases.require(plan.txid).status == ReleaseStatus.SIGNING

    await harness.step(mine=0)
    assert plan.txid in harness.bitcoind.getrawmempool()

    def confirmed_everywhere() -> bool:
        for member in harness.members:
            with member.sessions() as session:
                ledger = Ledger(session)
                for withdrawal_id, _ in requested:
                    withdrawal = ledger.withdrawals.require(withdrawal_id)
                    if (
                        withdrawal.status != WithdrawalStatus.CONFIRMED
                        or withdrawal.release_txid != plan.txid
                    ):
                        return False
        return True

    await settle(harness, confirmed_everywhere, steps=10)
