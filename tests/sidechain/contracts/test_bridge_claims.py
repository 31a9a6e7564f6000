"""Every claim the federation makes through the Bridge is recorded in the ChallengeCourt in the
same call, with the members who signed it: a minted deposit (deposit attestation), a marked
release (release signature) and a recorded state commitment; each opens the court's window."""

import pytest
from eth_utils import to_canonical_address

from restaking.commitment import Commitment, record_commitment_calldata, sign_commitment
from restaking.court import Claim, ClaimKind, ClaimStatus, claim_id, claim_of_calldata
from sidechain.attestation import Attestation, Release, attestation_digest
from sidechain.predeploys import BRIDGE_ADDRESS, COURT_ADDRESS
from sidechain.system_tx import deposit_gas

from .conftest import CHAIN_ID, GAS, RESTAKING, WEI_PER_SAT, block_number

BTC_ADDRESS = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
BTC_TXID = bytes.fromhex("c3" * 32)
ROOT = bytes.fromhex("5e" * 32)


def deposit(bridge, federation, attestation: Attestation, count: int | None = None):
    a = attestation
    return bridge.system(
        "deposit", a.txid, a.vout, a.asset, a.amount, a.recipient, federation.sign(a, count)
    )


def recorded(court, kind: ClaimKind, subject: bytes) -> Claim | None:
    return Claim.decode(
        court.evm.view(COURT_ADDRESS, claim_of_calldata(claim_id(kind, subject))).output
    )


def test_a_mint_records_its_deposit_attestation_with_its_signers(bridge, court, federation):
    a = Attestation(b"\x42" * 32, 3, 1, 75_000, bytes.fromhex("00" * 19 + "c1"))
    result = deposit(bridge, federation, a)
    assert result.success, result.revert_reason

    subject = attestation_digest(a, CHAIN_ID, BRIDGE_ADDRESS)
    claim = recorded(court, ClaimKind.DEPOSIT_ATTESTATION, subject)
    opened = block_number(court.evm)
    assert claim == Claim(
        kind=ClaimKind.DEPOSIT_ATTESTATION,
        status=ClaimStatus.OPEN,
        asset=1,
        amount=75_000,
        signers=0b011,  # the first two members, who signed
        opened_at=opened,
        closes_at=opened + RESTAKING.claim_window,
    )
    assert claim.operators(federation.addresses) == tuple(federation.addresses[:2])
    [event] = court.events(result, "ClaimRecorded")
    assert event["operators"] == federation.addresses[:2]  # strictly ascending
    assert (event["claim_id"], event["subject"]) == (
        claim_id(ClaimKind.DEPOSIT_ATTESTATION, subject),
        subject,
    )
    assert court.call("claim_operators", event["claim_id"]) == tuple(
        a.lower() for a in federation.addresses[:2]
    )


def test_the_last_two_members_signing_set_their_own_bits(bridge, court, federation):
    a = Attestation(b"\x43" * 32, 0, 0, 5_000, bytes.fromhex("00" * 19 + "c2"))
    signatures = federation.sign(a, members=federation.members[1:])
    args = (a.txid, a.vout, a.asset, a.amount, a.recipient, signatures)
    assert bridge.system("deposit", *args).success
    claim = recorded(
        court, ClaimKind.DEPOSIT_ATTESTATION, attestation_digest(a, CHAIN_ID, BRIDGE_ADDRESS)
    )
    assert claim is not None and claim.signers == 0b110


@pytest.mark.parametrize("signers", [2, 3])
def test_a_usdt_mint_to_a_new_account_stays_within_the_deposit_gas(bridge, federation, signers):
    a = Attestation(b"\x44" * 32, 0, 1, 10**8, bytes.fromhex("00" * 19 + "c3"))
    result = deposit(bridge, federation, a, count=signers)
    assert result.success, result.revert_reason
    # the new balance, the new supply shard, the minted flag and the new claim slot
    assert GAS - result.computation.get_gas_remaining() <= deposit_gas(signers)


def test_only_the_bridge_records_claims(court, federation, users):
    result = court.transact(
        users[0], "record_claim", 1, b"\x01" * 32, federation.addresses[:1], 1, 0, 5
    )
    assert result.revert_reason == "only bridge"


def test_a_release_records_its_claim_and_earns_its_fee(bridge, court, federation, users):
    result = bridge.transact(
        users[0], "withdraw", 0, 100_000, BTC_ADDRESS, value=100_000 * WEI_PER_SAT
    )
    assert result.success, result.revert_reason
    assert (bridge.call("fees_pending", 0), bridge.call("fees_earned", 0)) == (100, 0)

    release = Release(1, BTC_TXID)
    result = bridge.transact(users[1], "mark_released", 1, BTC_TXID, federation.sign(release))
    assert result.success, result.revert_reason

    claim = recorded(
        court, ClaimKind.RELEASE_SIGNATURE, attestation_digest(release, CHAIN_ID, BRIDGE_ADDRESS)
    )
    assert claim is not None
    assert (claim.status, claim.asset, claim.amount, claim.signers) == (
        ClaimStatus.OPEN,
        0,
        99_900,  # what Bitcoin paid
        0b011,
    )
    assert (bridge.call("fees_pending", 0), bridge.call("fees_earned", 0)) == (0, 100)
    assert bridge.call("locked_sats") == 99_900  # the fee is still in circulation


def test_a_commitment_is_recorded_once_and_opens_its_claim(bridge, court, federation, users):
    commitment = Commitment(height=120, state_root=ROOT)
    signatures = [sign_commitment(commitment, m.key, CHAIN_ID) for m in federation.members[:2]]
    data = record_commitment_calldata(commitment, signatures)
    result = bridge.evm.transact(users[0], BRIDGE_ADDRESS, data)
    assert result.success, result.revert_reason

    assert bridge.call("commitments", 120) == ROOT
    assert bridge.events(result, "CommitmentRecorded") == [{"height": 120, "state_root": ROOT}]
    assert bridge.call("commitment_digest", 120, ROOT) == commitment.digest(CHAIN_ID)
    claim = recorded(court, ClaimKind.STATE_COMMITMENT, commitment.digest(CHAIN_ID))
    assert claim is not None and (claim.kind, claim.amount) == (ClaimKind.STATE_COMMITMENT, 0)
    [event] = court.events(result, "ClaimRecorded")
    assert event["claim_id"] == commitment.claim_id(CHAIN_ID)

    again = bridge.evm.transact(users[0], BRIDGE_ADDRESS, data)
    assert again.revert_reason == "commitment already recorded"


def test_a_commitment_needs_the_quorum_over_its_own_root(bridge, federation, users):
    commitment = Commitment(height=7, state_root=ROOT)
    one = [sign_commitment(commitment, federation.members[0].key, CHAIN_ID)]
    result = bridge.transact(users[0], "record_commitment", 7, ROOT, one)
    assert result.revert_reason == "not enough federation signatures"
    other = Commitment(height=7, state_root=b"\x01" * 32)
    signatures = [sign_commitment(other, m.key, CHAIN_ID) for m in federation.members[:2]]
    result = bridge.transact(users[0], "record_commitment", 7, ROOT, signatures)
    assert result.revert_reason == "signer not a federation member"
    result = bridge.transact(users[0], "record_commitment", 7, b"\x00" * 32, signatures)
    assert result.revert_reason == "state root is zero"
    assert bridge.call("commitments", 7) == b"\x00" * 32


def test_only_the_court_covers_deficits(bridge, users):
    result = bridge.transact(users[0], "cover_deficit", 0, 10, value=10 * WEI_PER_SAT)
    assert result.revert_reason == "only court"


def test_the_court_knows_the_bridge_and_its_window(court):
    assert court.call("bridge") == "0x" + BRIDGE_ADDRESS.hex()
    assert court.call("claim_window") == RESTAKING.claim_window
    assert court.call("voting_blocks") == RESTAKING.voting_blocks
    assert to_canonical_address(court.call("bridge")) == BRIDGE_ADDRESS
