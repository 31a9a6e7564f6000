"""Claims are open to challenge for their window; operators not party to a claim vote with
their snapshotted stake; two thirds "false" void it (slash, challenger reward, the deficit
covered from the slash), otherwise the bond goes to the delegators; every out-of-turn action
is refused with a reason. Claims here are recorded as the Bridge records them."""

import pytest

from restaking.court import Claim, ClaimKind, ClaimStatus, claim_of_calldata
from restaking.court import claim_id as expected_claim_id
from restaking.vault_model import INITIAL_RATE, RAY, VIRTUAL_SHARES, to_assets
from sidechain.predeploys import BRIDGE_ADDRESS

from .conftest import ADDRESSES, PARAMS, WEI_PER_SAT, advance, block_number, gas_used, mint_usdt, ok

DEPOSIT = ClaimKind.DEPOSIT_ATTESTATION
RELEASE = ClaimKind.RELEASE_SIGNATURE
EVIDENCE = b"raw bitcoin transaction and merkle proof"
BOND = PARAMS.min_bond_wei
STAKES = [(1_000_000, 500_000), (400_000, 100_000), (200_000, 300_000)]  # (sats, USDT units)


@pytest.fixture
def staked(restaking, evm, usdt, operators, stakers):
    """Each staker delegates BTC and USDT to the operator of the same index."""
    for staker, operator, (sats, units) in zip(stakers, operators, STAKES, strict=True):
        ok(restaking.stake_btc(staker, operator, sats))
        mint_usdt(evm, usdt, staker, units)
        ok(restaking.stake_usdt(staker, operator, units))
    return restaking


def record(court, accused, kind=DEPOSIT, asset=0, amount=250_000, subject=b"\x5a" * 32) -> bytes:
    """The Bridge records a claim made by `accused` (operators, which are the federation's
    members in its order); returns the claim id."""
    members = [m.address for m in court.federation.members]
    bitmap = sum(1 << members.index(a.address) for a in accused)
    addresses = [a.address for a in accused]
    data = court.calldata("record_claim", kind, subject, addresses, bitmap, asset, amount)
    result = court.evm.message_call(BRIDGE_ADDRESS, court.address, data)
    assert result.success, result.revert_reason
    [recorded] = court.events(result, "ClaimRecorded")
    assert recorded["claim_id"] == expected_claim_id(kind, subject)
    assert recorded["closes_at"] == block_number(court.evm) + PARAMS.claim_window
    return recorded["claim_id"]


def claim_of(court, claim_id) -> Claim:
    claim = Claim.decode(court.evm.view(court.address, claim_of_calldata(claim_id)).output)
    assert claim is not None
    return claim


@pytest.fixture
def court(staked, federation):
    court = staked.court
    court.federation = federation
    return court


def test_upheld_challenge_slashes_claimants_rewards_challenger_and_covers_deficit(
    court, staked, bridge, evm, usdt, operators, stakers, outsider
):
    claim_id = record(court, operators[:2])  # a dishonest quorum of two minted 250,000 sats
    ok(court.transact(outsider, "challenge", claim_id, EVIDENCE, 250_000, value=BOND))

    result = ok(court.transact(operators[2], "vote", claim_id, True))
    assert court.events(result, "Voted")[0]["btc_stake"] == 200_000
    result = ok(court.transact(stakers[0], "resolve", claim_id))

    [voided] = court.events(result, "ClaimVoided")
    btc_slashed = (1_000_000 + 400_000) // 2
    usdt_slashed = (500_000 + 100_000) // 2
    assert (voided["btc_slashed"], voided["usdt_slashed"]) == (btc_slashed, usdt_slashed)
    btc_reward, usdt_reward = btc_slashed // 10, usdt_slashed // 10
    owed = BOND + btc_reward * WEI_PER_SAT
    assert court.call("payouts", outsider.address) == owed
    # The minted 250,000 sats are covered from the slash: locked in the Bridge for good.
    assert court.events(result, "DeficitCovered") == [
        {"asset": 0, "amount": 250_000, "outstanding": 0}
    ]
    assert bridge.call("deficit_covered", 0) == 250_000
    assert bridge.call("locked_sats") == 250_000
    assert evm.state.get_balance(BRIDGE_ADDRESS) == 250_000 * WEI_PER_SAT
    assert court.call("reserves", 0) == btc_slashed - btc_reward - 250_000
    assert court.call("reserves", 1) == usdt_slashed - usdt_reward
    assert court.call("outstanding_deficit", 0) == 0
    held = (btc_slashed - btc_reward - 250_000) * WEI_PER_SAT + owed
    assert evm.state.get_balance(ADDRESSES.court) == held
    send = lambda: court.transact(outsider, "withdraw")  # noqa: E731
    assert 21_000 < gas_used(evm, outsider, send, received=owed) < 60_000
    assert court.transact(outsider, "withdraw").revert_reason == "nothing to withdraw"
    assert usdt.call("balanceOf", outsider.address) == usdt_reward
    assert staked.btc.call("stake_of", operators[0].address) == 500_000
    assert staked.usdt.call("stake_of", operators[1].address) == 50_000
    assert staked.btc.call("stake_of", operators[2].address) == 200_000
    assert claim_of(court, claim_id).status == ClaimStatus.VOID
    assert not court.call("is_final", claim_id)
    assert court.transact(stakers[0], "resolve", claim_id).revert_reason == (
        "challenge already resolved"
    )


def test_a_usdt_deficit_beyond_the_slash_stays_outstanding_until_the_next_slash(
    court, bridge, usdt, operators, outsider
):
    total_before = usdt.call("totalSupply")
    first = record(court, operators[:2], asset=1, amount=400_000, subject=b"\x01" * 32)
    ok(court.transact(outsider, "challenge", first, EVIDENCE, 400_000, value=BOND))
    ok(court.transact(operators[2], "vote", first, True))
    result = ok(court.transact(outsider, "resolve", first))
    covered = 300_000 - 30_000  # the USDT slash less the challenger's tenth
    assert court.events(result, "DeficitCovered")[-1] == {
        "asset": 1,
        "amount": covered,
        "outstanding": 400_000 - covered,
    }
    assert bridge.call("deficit_covered", 1) == covered
    # USDT covering a deficit is burned: out of the supply, as the fake mint was unbacked.
    assert usdt.call("totalSupply") == total_before - covered
    assert court.call("outstanding_deficit", 1) == 400_000 - covered

    second = record(court, operators[:2], subject=b"\x02" * 32, asset=1, amount=1)
    ok(court.transact(outsider, "challenge", second, EVIDENCE, 1, value=BOND))
    ok(court.transact(operators[2], "vote", second, True))
    ok(court.transact(outsider, "resolve", second))
    assert court.call("outstanding_deficit", 1) == 0
    assert bridge.call("deficit_covered", 1) == 400_000 + 1


def test_a_release_challenge_states_its_deficit(court, bridge, operators, outsider):
    claim_id = record(court, operators[1:], kind=RELEASE, amount=10_000)
    ok(court.transact(outsider, "challenge", claim_id, EVIDENCE, 55_555, value=BOND))
    assert court.call("challenges", claim_id)[2] == 55_555
    ok(court.transact(operators[0], "vote", claim_id, True))
    ok(court.transact(outsider, "resolve", claim_id))
    assert bridge.call("deficit_covered", 0) == 55_555


def test_frivolous_challenge_loses_its_bond_to_the_operators_delegators(
    court, staked, evm, operators, stakers, outsider
):
    claim_id = record(court, operators[:1])
    ok(court.transact(outsider, "challenge", claim_id, EVIDENCE, 250_000, value=BOND))
    ok(court.transact(operators[2], "vote", claim_id, True))  # 200k of 600k BTC: not enough
    ok(court.transact(operators[1], "vote", claim_id, False))
    assert court.transact(stakers[0], "resolve", claim_id).revert_reason == "voting still open"

    advance(evm, PARAMS.voting_blocks + 1)
    assert court.transact(operators[1], "vote", claim_id, True).revert_reason == "voting closed"
    result = ok(court.transact(stakers[0], "resolve", claim_id))

    assert court.events(result, "ChallengeRejected")[0]["bond"] == BOND
    bond_sats = BOND // WEI_PER_SAT
    commission = bond_sats // 10
    shares = 1_000_000_000
    rate = INITIAL_RATE + (bond_sats - commission) * RAY // (shares + VIRTUAL_SHARES)
    assert staked.btc.call("stake_of", operators[0].address) == to_assets(shares, rate)
    assert staked.btc.call("commission_owed", operators[0].address) == commission
    assert staked.btc.call("stake_of", operators[1].address) == 400_000
    assert claim_of(court, claim_id).status == ClaimStatus.STANDS
    assert not court.call("is_final", claim_id)
    advance(evm, PARAMS.claim_window)
    assert court.call("is_final", claim_id)


def test_challenge_after_the_window_is_refused(court, evm, operators, outsider):
    claim_id = record(court, operators[:1])
    advance(evm, PARAMS.claim_window)
    refused = court.transact(outsider, "challenge", claim_id, EVIDENCE, 250_000, value=BOND)
    assert refused.revert_reason == "challenge window closed"
    assert court.call("is_final", claim_id)


def test_votes_refused_with_reasons(court, operators, outsider):
    claim_id = record(court, operators[:1])
    assert court.transact(operators[1], "vote", claim_id, True).revert_reason == (
        "claim not under challenge"
    )
    ok(court.transact(outsider, "challenge", claim_id, EVIDENCE, 250_000, value=BOND))

    ok(court.transact(operators[1], "vote", claim_id, True))
    assert court.transact(operators[1], "vote", claim_id, False).revert_reason == (
        "operator already voted"
    )
    assert court.transact(outsider, "vote", claim_id, True).revert_reason == "not an operator"
    assert court.transact(operators[0], "vote", claim_id, True).revert_reason == (
        "operator made the claim"
    )


def test_stake_added_after_the_challenge_does_not_vote(
    court, staked, evm, operators, stakers, outsider
):
    ok(staked.registry.transact(operators[2], "deregister"))
    claim_id = record(court, operators[:1])
    advance(evm, PARAMS.registry_delay)
    ok(court.transact(outsider, "challenge", claim_id, EVIDENCE, 250_000, value=BOND))
    assert court.call("challenges", claim_id)[5:7] == (400_000, 100_000)
    ok(staked.stake_btc(stakers[1], operators[1], 10**7))
    result = ok(court.transact(operators[1], "vote", claim_id, True))
    assert court.events(result, "Voted")[0]["btc_stake"] == 400_000
    assert court.transact(operators[2], "vote", claim_id, True).revert_reason == "not an operator"


def test_claims_and_challenges_refused_with_reasons(court, evm, operators, outsider):
    claim_id = record(court, operators[:1])
    claim = claim_of(court, claim_id)
    assert (claim.opened_at, claim.status, claim.signers) == (
        block_number(evm),
        ClaimStatus.OPEN,
        1,
    )
    assert claim.open_at(block_number(evm))
    accused = [operators[0].address]
    again = court.calldata("record_claim", DEPOSIT, b"\x5a" * 32, accused, 1, 0, 250_000)
    refused = evm.message_call(BRIDGE_ADDRESS, court.address, again)
    assert refused.revert_reason == "claim already recorded"
    for args, reason in [
        ((4, b"\x01" * 32, accused, 1, 0, 1), "unknown claim kind"),
        ((DEPOSIT, b"\x01" * 32, [], 0, 0, 1), "claim has no operators"),
        ((DEPOSIT, b"\x01" * 32, accused, 1, 2, 1), "unknown asset"),
    ]:
        data = court.calldata("record_claim", *args)
        assert evm.message_call(BRIDGE_ADDRESS, court.address, data).revert_reason == reason

    refused = court.transact(outsider, "challenge", claim_id, EVIDENCE, 1, value=BOND)
    assert refused.revert_reason == "deficit must equal the attested deposit's amount"
    refused = court.transact(
        outsider, "challenge", claim_id, EVIDENCE, 250_000, value=BOND - WEI_PER_SAT
    )
    assert refused.revert_reason == "bond below minimum"
    refused = court.transact(outsider, "challenge", claim_id, EVIDENCE, 250_000, value=BOND + 1)
    assert refused.revert_reason == "bond must be a whole number of sats"
    refused = court.transact(outsider, "challenge", claim_id, b"", 250_000, value=BOND)
    assert refused.revert_reason == "evidence is empty"
    refused = court.transact(outsider, "challenge", b"\x01" * 32, EVIDENCE, 0, value=BOND)
    assert refused.revert_reason == "unknown claim"
    ok(court.transact(outsider, "challenge", claim_id, EVIDENCE, 250_000, value=BOND))
    refused = court.transact(outsider, "challenge", claim_id, EVIDENCE, 250_000, value=BOND)
    assert refused.revert_reason == "claim already challenged"
    assert court.transact(outsider, "resolve", b"\x01" * 32).revert_reason == (
        "claim not under challenge"
    )
    refused = evm.transact(outsider, ADDRESSES.court, b"", value=1)
    assert refused.revert_reason == "only the btc vault pays the court"
