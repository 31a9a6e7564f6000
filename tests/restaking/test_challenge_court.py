"""Claims are open to challenge for their window; operators not party to a claim vote with
their snapshotted stake; two thirds "false" void it (slash, challenger reward, deficit cover),
otherwise the bond goes to the delegators; every out-of-turn action is refused with a reason."""

import pytest
from eth_utils import to_checksum_address

from restaking.court import ClaimKind, ClaimStatus
from restaking.court import claim_id as expected_claim_id

from .conftest import (
    ADDRESSES,
    DEFICIT_RECEIVER,
    PARAMS,
    WEI_PER_SAT,
    advance,
    block_number,
    gas_used,
    mint_usdt,
    ok,
)

DEPOSIT_ATTESTATION = ClaimKind.DEPOSIT_ATTESTATION
SUBJECT = b"\x5a" * 32
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


def record(court, evm, accused) -> bytes:
    """A deposit attestation made by `accused`, recorded by the system; returns its claim id."""
    addresses = [a.address for a in accused]
    result = ok(court.system("record_claim", DEPOSIT_ATTESTATION, SUBJECT, addresses))
    [recorded] = court.events(result, "ClaimRecorded")
    assert recorded["claim_id"] == expected_claim_id(DEPOSIT_ATTESTATION, SUBJECT)
    assert recorded["closes_at"] == block_number(evm) + PARAMS.claim_window
    return recorded["claim_id"]


def test_upheld_challenge_slashes_claimants_rewards_challenger_and_covers_deficit(
    staked, evm, usdt, operators, stakers, outsider
):
    court = staked.court
    claim_id = record(court, evm, operators[:2])  # a dishonest quorum of two
    ok(court.transact(outsider, "challenge", claim_id, EVIDENCE, value=BOND))

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
    assert evm.state.get_balance(ADDRESSES.court) == owed
    send = lambda: court.transact(outsider, "withdraw")  # noqa: E731
    assert 21_000 < gas_used(evm, outsider, send, received=owed) < 60_000
    assert court.transact(outsider, "withdraw").revert_reason == "nothing to withdraw"
    assert evm.state.get_balance(ADDRESSES.court) == 0
    assert usdt.call("balanceOf", outsider.address) == usdt_reward
    deficit = to_checksum_address(DEFICIT_RECEIVER)
    assert evm.state.get_balance(DEFICIT_RECEIVER) == (btc_slashed - btc_reward) * WEI_PER_SAT
    assert usdt.call("balanceOf", deficit) == usdt_slashed - usdt_reward
    assert staked.btc.call("stake_of", operators[0].address) == 500_000
    assert staked.usdt.call("stake_of", operators[1].address) == 50_000
    assert staked.btc.call("stake_of", operators[2].address) == 200_000
    assert court.call("claims", claim_id)[5] == ClaimStatus.VOID
    assert not court.call("is_final", claim_id)
    assert court.transact(stakers[0], "resolve", claim_id).revert_reason == (
        "challenge already resolved"
    )


def test_frivolous_challenge_loses_its_bond_to_the_operators_delegators(
    staked, evm, operators, stakers, outsider
):
    court = staked.court
    claim_id = record(court, evm, operators[:1])
    ok(court.transact(outsider, "challenge", claim_id, EVIDENCE, value=BOND))
    ok(court.transact(operators[2], "vote", claim_id, True))  # 200k of 600k BTC: not enough
    ok(court.transact(operators[1], "vote", claim_id, False))
    assert court.transact(stakers[0], "resolve", claim_id).revert_reason == "voting still open"

    advance(evm, PARAMS.voting_blocks + 1)
    assert court.transact(operators[1], "vote", claim_id, True).revert_reason == "voting closed"
    result = ok(court.transact(stakers[0], "resolve", claim_id))

    assert court.events(result, "ChallengeRejected")[0]["bond"] == BOND
    bond_sats = BOND // WEI_PER_SAT
    commission = bond_sats // 10
    assert staked.btc.call("stake_of", operators[0].address) == 1_000_000 + bond_sats - commission
    assert staked.btc.call("commission_owed", operators[0].address) == commission
    assert staked.btc.call("stake_of", operators[1].address) == 400_000
    assert court.call("claims", claim_id)[5] == ClaimStatus.STANDS
    assert not court.call("is_final", claim_id)
    advance(evm, PARAMS.claim_window)
    assert court.call("is_final", claim_id)


def test_challenge_after_the_window_is_refused(staked, evm, operators, outsider):
    court = staked.court
    claim_id = record(court, evm, operators[:1])
    advance(evm, PARAMS.claim_window)
    refused = court.transact(outsider, "challenge", claim_id, EVIDENCE, value=BOND)
    assert refused.revert_reason == "challenge window closed"
    assert court.call("is_final", claim_id)


def test_votes_refused_with_reasons(staked, evm, operators, outsider):
    court = staked.court
    claim_id = record(court, evm, operators[:1])
    assert court.transact(operators[1], "vote", claim_id, True).revert_reason == (
        "claim not under challenge"
    )
    ok(court.transact(outsider, "challenge", claim_id, EVIDENCE, value=BOND))

    ok(court.transact(operators[1], "vote", claim_id, True))
    assert court.transact(operators[1], "vote", claim_id, False).revert_reason == (
        "operator already voted"
    )
    assert court.transact(outsider, "vote", claim_id, True).revert_reason == "not an operator"
    assert court.transact(operators[0], "vote", claim_id, True).revert_reason == (
        "operator made the claim"
    )


def test_stake_added_after_the_challenge_does_not_vote(staked, evm, operators, stakers, outsider):
    court = staked.court
    ok(staked.registry.transact(operators[2], "deregister"))
    claim_id = record(court, evm, operators[:1])
    advance(evm, PARAMS.registry_delay)
    ok(court.transact(outsider, "challenge", claim_id, EVIDENCE, value=BOND))
    assert court.call("challenges", claim_id)[4:6] == (400_000, 100_000)
    ok(staked.stake_btc(stakers[1], operators[1], 10**7))
    result = ok(court.transact(operators[1], "vote", claim_id, True))
    assert court.events(result, "Voted")[0]["btc_stake"] == 400_000
    assert court.transact(operators[2], "vote", claim_id, True).revert_reason == "not an operator"


def test_claims_and_challenges_refused_with_reasons(staked, evm, operators, outsider):
    court = staked.court
    accused = [operators[0].address]
    refused = court.transact(outsider, "record_claim", DEPOSIT_ATTESTATION, SUBJECT, accused)
    assert refused.revert_reason == "only system or federation member"
    ok(court.transact(operators[2], "record_claim", DEPOSIT_ATTESTATION, SUBJECT, accused))
    refused = court.system("record_claim", DEPOSIT_ATTESTATION, SUBJECT, accused)
    assert refused.revert_reason == "claim already recorded"
    assert court.system("record_claim", 4, SUBJECT, accused).revert_reason == "unknown claim kind"
    descending = [operators[1].address, operators[0].address]
    assert court.system("record_claim", 2, SUBJECT, descending).revert_reason == (
        "operators not strictly ascending"
    )
    claim_id = court.call("claim_id_of", DEPOSIT_ATTESTATION, SUBJECT)
    assert court.call("claims", claim_id)[3] == block_number(evm)
    assert court.call("claims", claim_id)[5] == ClaimStatus.OPEN

    refused = court.transact(outsider, "challenge", claim_id, EVIDENCE, value=BOND - WEI_PER_SAT)
    assert refused.revert_reason == "bond below minimum"
    refused = court.transact(outsider, "challenge", claim_id, EVIDENCE, value=BOND + 1)
    assert refused.revert_reason == "bond must be a whole number of sats"
    refused = court.transact(outsider, "challenge", b"\x01" * 32, EVIDENCE, value=BOND)
    assert refused.revert_reason == "unknown claim"
    ok(court.transact(outsider, "challenge", claim_id, EVIDENCE, value=BOND))
    refused = court.transact(outsider, "challenge", claim_id, EVIDENCE, value=BOND)
    assert refused.revert_reason == "claim already challenged"
    assert court.transact(outsider, "resolve", b"\x01" * 32).revert_reason == (
        "claim not under challenge"
    )
    refused = evm.transact(outsider, ADDRESSES.court, b"", value=1)
    assert refused.revert_reason == "only the btc vault pays the court"


def test_recording_claims_writes_only_their_own_slots(staked, evm, operators):
    court = staked.court
    accused = [operators[0].address]
    with evm.record_storage_writes() as first:
        ok(court.system("record_claim", ClaimKind.DEPOSIT_ATTESTATION, b"\x01" * 32, accused))
    with evm.record_storage_writes() as second:
        ok(court.system("record_claim", ClaimKind.DEPOSIT_ATTESTATION, b"\x02" * 32, accused))
    assert first and first.isdisjoint(second)
