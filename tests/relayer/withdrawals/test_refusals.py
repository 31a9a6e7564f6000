"""A member checks every output of a proposed release against its OWN ledger before signing."""

import dataclasses

import pytest
from bitcoin.core import CTxOut
from bitcoin.core.script import CScript

from bridge.ledger import Asset, Ledger, WithdrawalStatus
from relayer.release_build import Payout, build_spend
from relayer.release_check import SpendProposal
from relayer.release_errors import PeerRequestFailed
from relayer.signing import proposal_to_json
from tests.relayer.withdrawals.conftest import WINDOW, Harness, settle


def script_of(harness: Harness, address: str) -> bytes:
    return bytes.fromhex(harness.bitcoind.validateaddress(address)["scriptPubKey"])


async def ready_withdrawals(harness: Harness, count: int) -> list[tuple[str, int, str]]:
    harness.fund_vault_btc("0.2", harness.users[0])
    requested = []
    for n in range(count):
        address = harness.bitcoind.new_address()
        withdrawal = harness.withdraw(harness.users[5], Asset.BTC, 40_000 + n, address)
        requested.append((withdrawal, harness.bridge.payout(withdrawal), address))
    for _ in range(WINDOW + 1):
        await harness.step(release=False)
    for member in harness.members:
        with member.sessions() as session:
            ledger = Ledger(session)
            assert all(
                ledger.withdrawals.require(w).status == WithdrawalStatus.READY
                for w, _, _ in requested
            )
    return requested


async def proposal_paying(
    harness: Harness, payouts: list[Payout], extra: list[CTxOut] | None = None
) -> SpendProposal:
    """Member 1's spend of the vault paying `payouts` (and `extra` outputs)."""
    proposer = harness.members[0]
    vault = await proposer.vault.coins()
    plan = build_spend(
        payouts,
        vault.funding,
        proposer.vault.settings.change,
        2_000,
        harness.rules,
        extra_outputs=extra or [],
    )
    return SpendProposal(plan.psbt, plan.payments, plan.fee_rate)


async def assert_peers_refuse(harness: Harness, proposal: SpendProposal, reason: str) -> None:
    """Each peer refuses to sign `proposal` with `reason`; no ledger records it."""
    proposer = harness.members[0]
    for peer in proposer.federation.peers:
        with pytest.raises(PeerRequestFailed, match=reason):
            await proposer.client.request(peer, "spend.sign", proposal_to_json(proposal))
    for member in harness.members:
        with member.sessions() as session:
            assert Ledger(session).releases.get(proposal.txid) is None


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        ("extra_output", "is not requested"),
        ("wrong_amount", "asked"),
        ("unknown_address", "does not pay"),
        ("unrequested_withdrawal", "never requested"),
    ],
)
async def test_a_release_that_does_not_match_the_ledger_is_refused(
    harness: Harness, tamper: str, reason: str
) -> None:
    requested = await ready_withdrawals(harness, 2)
    payouts = [Payout(w, Asset.BTC, amount, script_of(harness, a)) for w, amount, a in requested]
    extra: list[CTxOut] = []
    stranger = script_of(harness, harness.bitcoind.new_address())
    if tamper == "extra_output":
        extra = [CTxOut(25_000, CScript(stranger))]
    elif tamper == "wrong_amount":
        payouts[0] = dataclasses.replace(payouts[0], amount=payouts[0].amount + 1)
    elif tamper == "unknown_address":
        payouts[1] = dataclasses.replace(payouts[1], script=stranger)
    else:
        payouts.append(Payout("0x" + "77" * 32, Asset.BTC, 30_000, stranger))
    await assert_peers_refuse(harness, await proposal_paying(harness, payouts, extra), reason)
    for member in harness.members:
        with member.sessions() as session:
            ledger = Ledger(session)
            assert all(
                ledger.withdrawals.require(w).status == WithdrawalStatus.READY
                for w, _, _ in requested
            )

    # The honest release of the same withdrawals goes through.
    def paid() -> bool:
        with harness.members[0].sessions() as session:
            ledger = Ledger(session)
            return all(
                ledger.withdrawals.require(w).status == WithdrawalStatus.CONFIRMED
                for w, _, _ in requested
            )

    await settle(harness, paid, steps=30)


async def test_a_paused_member_signs_no_release_until_resumed(harness: Harness) -> None:
    """Its operator paused the bridge there: it refuses even an honest release, and once
    resumed the same withdrawals are paid."""
    ((withdrawal, amount, address),) = await ready_withdrawals(harness, 1)
    for member in harness.members[1:]:
        with member.sessions.begin() as session:
            Ledger(session).pause.set(True, "operator drill")
    payout = Payout(withdrawal, Asset.BTC, amount, script_of(harness, address))
    proposal = await proposal_paying(harness, [payout])
    await assert_peers_refuse(harness, proposal, "paused here: operator drill")
    for member in harness.members[1:]:
        with member.sessions.begin() as session:
            Ledger(session).pause.set(False, None)

    def paid() -> bool:
        with harness.members[0].sessions() as session:
            paid = Ledger(session).withdrawals.require(withdrawal)
            return paid.status == WithdrawalStatus.CONFIRMED

    await settle(harness, paid, steps=30)


async def test_a_release_before_the_window_closes_is_refused(harness: Harness) -> None:
    """The core rule: a member never signs for a request still inside its challenge window."""
    harness.fund_vault_btc("0.2", harness.users[0])
    address = harness.bitcoind.new_address()
    withdrawal = harness.withdraw(harness.users[5], Asset.BTC, 45_000, address)
    await harness.step(mine=0, release=False)  # recorded, its window open
    amount = harness.bridge.payout(withdrawal)
    payout = Payout(withdrawal, Asset.BTC, amount, script_of(harness, address))
    proposal = await proposal_paying(harness, [payout])
    await assert_peers_refuse(harness, proposal, "is window_open, not ready")
    for member in harness.members:
        with member.sessions() as session:
            status = Ledger(session).withdrawals.require(withdrawal).status
            assert status == WithdrawalStatus.WINDOW_OPEN
