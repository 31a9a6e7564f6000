"""A dishonest quorum (an attacker holding members 1 and 2's keys) makes each kind of false
claim; the challenger watcher challenges it within its window, member 3's watcher re-checks it
and votes it false, and the court voids it: both dishonest operators are slashed, the deficit
is covered from the slash and `sluice audit` holds again. One stack, the attacks in turn:
* a deposit Bitcoin never saw, minted (the voter's watcher killed with SIGKILL meanwhile);
* a withdrawal marked released by a vault spend that pays the attacker, not the user;
* a state root that re-executing the sidechain does not give.
Claims that hold (a true deposit, the federation's own releases and commitments) are never
challenged: their windows close and the ledgers hold them upheld."""

import re
import signal
from typing import Any

import pytest

from bridge.ledger import Asset, ChallengeStatus, ClaimKind, ClaimStatus, DepositStatus
from regtest.util import wait_until
from relayer.local import challenger_account
from relayer.release_sidechain import ordered_signatures
from relayer.testing import FederationRig
from restaking.commitment import Commitment, sign_commitment
from restaking.court import ClaimKind as CourtKind
from restaking.court import ClaimStatus as CourtStatus
from restaking.court import claim_id
from sidechain.attestation import Release, attestation_digest, sign_attestation
from sidechain.genesis import DEV_CHAIN_ID
from sidechain.predeploys import BRIDGE_ADDRESS
from tests.relayer.releases.conftest import (
    assert_audit_holds,
    fund_users,
    new_user,
    steal_a_vault_coin,
)
from tests.relayer.support import RELEASED, Bridge
from tests.relayer.watcher.conftest import (
    PARAMS,
    Restaking,
    attackers,
    confirmed,
    get_json,
    mint_btc_bitcoin_never_saw,
)

pytestmark = [pytest.mark.xdist_group("relayer-watcher-fraud"), pytest.mark.timeout(900)]
FAKE_SATS = 12_345_678
THEFT_COIN = 40_000_000
VOID_TIMEOUT_S = 180


def mirrored(federation: FederationRig, court_id: str) -> tuple[set[str], set[str]]:
    """Member 3's ledger: the statuses of the claim's rows and of its challenge's rows."""
    return federation.read(
        3,
        lambda ledger: (
            {str(c.status) for c in ledger.claims.for_court_claim(court_id)},
            {str(c.status) for c in ledger.challenges.for_court_claim(court_id)},
        ),
    )


def assert_voided_and_slashed(
    federation: FederationRig, restaking: Restaking, claim: bytes, before: list[int]
) -> None:
    """The court voided the claim, operators 1 and 2 lost slash_bps of their stake, operator 3
    nothing; every ledger mirror says so, and the challenger's watcher took its payout."""
    wait_until(lambda: restaking.status(claim) == CourtStatus.VOID, timeout=VOID_TIMEOUT_S)
    after = restaking.stakes([keys.evm.address for keys in federation.keys])
    keep = 10_000 - PARAMS.slash_bps
    assert after[:2] == [stake * keep // 10_000 for stake in before[:2]]
    assert after[2] == before[2]
    court_id = "0x" + claim.hex()
    outcome = ({ClaimStatus.VOIDED.value}, {ChallengeStatus.SUCCEEDED.value})
    wait_until(lambda: mirrored(federation, court_id) == outcome)
    rows = federation.read(3, lambda ledger: ledger.claims.for_court_claim(court_id))
    assert {row.operator for row in rows} == {k.address for k in attackers(federation)}
    challenger = challenger_account(federation.challenger_key).address
    wait_until(lambda: restaking.court.functions.payouts(challenger).call() == 0)


def stakes(federation: FederationRig, restaking: Restaking) -> list[int]:
    return restaking.stakes([keys.evm.address for keys in federation.keys])


@pytest.fixture(scope="module")
def users(federation: FederationRig, bridge: Bridge) -> list[Any]:
    """Two users holding BTC minted through the relayers (their deposits fund the vault)."""
    accounts = [new_user(), new_user()]
    fund_users(federation, bridge, btc={accounts[0]: THEFT_COIN, accounts[1]: 30_000_000})
    assert_audit_holds(federation)
    return accounts


def test_a_deposit_bitcoin_never_saw_is_voided_slashed_and_covered(
    federation: FederationRig, bridge: Bridge, restaking: Restaking, users: list[Any]
) -> None:
    before = stakes(federation, restaking)
    recipient, claim = mint_btc_bitcoin_never_saw(federation, FAKE_SATS)
    wait_until(lambda: bridge.balance_sats(recipient) == FAKE_SATS, timeout=60)
    # (Until the court covers it, the audit finds FAKE_SATS unbacked: test_audit_breaks.)
    # The voter's watcher is killed (SIGKILL) as the challenge opens, about when it votes, and
    # started again: it votes once all the same, from its state file and its court reads.
    challenged = (CourtStatus.CHALLENGED, CourtStatus.VOID)  # (a slow poll may miss the first)
    wait_until(lambda: restaking.status(claim) in challenged, timeout=60, poll=0.1)
    voter = federation.watcher("member-3")
    assert voter.kill() == -signal.SIGKILL
    voter.start()
    assert_voided_and_slashed(federation, restaking, claim, before)
    votes = restaking.court.events.Voted().get_logs(
        from_block=0, argument_filters={"claim_id": claim}
    )
    assert [vote["args"]["operator"] for vote in votes] == [federation.keys[2].evm.address]
    assert restaking.bridge.functions.deficit_covered(0).call() == FAKE_SATS
    assert_audit_holds(federation)

    # A true deposit's claim (a user's) was never challenged: upheld when its window closed.
    deposit_ids = federation.read(
        3,
        lambda ledger: [
            d.id
            for d in ledger.deposits.with_status(DepositStatus.MINTED)
            if d.recipient == users[1].address.lower()
        ],
    )

    def true_claim() -> set[str]:
        return federation.read(
            3,
            lambda ledger: {
                str(c.status)
                for c in ledger.claims.for_subject(ClaimKind.DEPOSIT_ATTESTATION, deposit_ids[0])
            },
        )

    wait_until(lambda: true_claim() == {ClaimStatus.UPHELD.value}, timeout=60)


def test_a_release_paying_the_attacker_is_voided_and_the_theft_covered(
    federation: FederationRig, bridge: Bridge, restaking: Restaking, users: list[Any]
) -> None:
    covered = restaking.bridge.functions.deficit_covered(0).call()
    before = stakes(federation, restaking)
    address = federation.bitcoind.new_address()
    withdrawal = bridge.withdraw(users[1], Asset.BTC, 70_000, address)
    # The attacker spends a vault coin to itself and tells the Bridge it paid the withdrawal.
    theft, stolen = steal_a_vault_coin(federation, at_least=10_000_000)
    withdrawal_id = int(withdrawal, 16)
    release = Release(withdrawal_id, bytes.fromhex(theft))
    signatures = {
        keys.address: sign_attestation(release, keys.evm_private_key, DEV_CHAIN_ID, BRIDGE_ADDRESS)
        for keys in attackers(federation)
    }
    call = restaking.bridge.functions.mark_released(
        withdrawal_id, bytes.fromhex(theft), ordered_signatures(signatures)
    )
    assert restaking.send(users[0], call)["status"] == 1
    assert bridge.status(withdrawal) == (RELEASED, theft)
    claim = claim_id(
        CourtKind.RELEASE_SIGNATURE, attestation_digest(release, DEV_CHAIN_ID, BRIDGE_ADDRESS)
    )
    assert_voided_and_slashed(federation, restaking, claim, before)
    assert restaking.bridge.functions.deficit_covered(0).call() == covered + stolen
    # The honest federation still pays the user (the Bridge already says released).
    federation.mine_until(lambda: confirmed(federation, withdrawal))
    report = assert_audit_holds(federation)
    assert report["BTC"]["terms"]["bitcoin: vault coins taken by releases the court voided"] == 1


def test_a_state_root_re_execution_does_not_give_is_voided(
    federation: FederationRig, restaking: Restaking, users: list[Any]
) -> None:
    before = stakes(federation, restaking)
    head = int(federation.rpc("eth_blockNumber"), 16)
    height = head - head % 40 + 7  # never one of the federation's (every 40th block)
    wait_until(lambda: int(federation.rpc("eth_blockNumber"), 16) >= height)
    bogus = Commitment(height, b"\x5a" * 32)
    signatures = {
        keys.address: sign_commitment(bogus, keys.evm_private_key, DEV_CHAIN_ID)
        for keys in attackers(federation)
    }
    call = restaking.bridge.functions.record_commitment(
        height, bogus.state_root, ordered_signatures(signatures)
    )
    assert restaking.send(users[0], call)["status"] == 1
    assert_voided_and_slashed(federation, restaking, bogus.claim_id(DEV_CHAIN_ID), before)

    # The federation's own commitments (anchored, then recorded) hold: upheld, unchallenged.
    def upheld_commitments() -> set[str]:
        return federation.read(
            3,
            lambda ledger: {
                c.subject
                for c in ledger.claims.with_status(ClaimStatus.UPHELD)
                if c.kind == ClaimKind.STATE_COMMITMENT
            },
        )

    federation.mine_until(lambda: upheld_commitments(), timeout=240)
    assert all(int(subject) % 40 == 0 for subject in upheld_commitments())
    assert_audit_holds(federation)


def test_the_api_shows_the_windows_the_challenges_and_the_economic_security(
    federation: FederationRig, restaking: Restaking, api: str
) -> None:
    """After the three attacks: GET /v1/status reports the stake behind the federation against
    what the bridge holds; /v1/claims, /v1/challenges, /v1/commitments show the court's claims
    and challenges as member 1's ledger mirrors them."""
    operators = [keys.evm.address for keys in federation.keys]

    def security() -> dict[str, Any]:
        return dict(get_json(f"{api}/v1/status")["security"])

    wait_until(lambda: security()["btc"]["held"] is not None, timeout=60)
    shown = security()
    assert [op["btc_stake"] for op in shown["operators"]] == restaking.stakes(operators)
    assert [op["btc_ratio_bps"] for op in shown["operators"]] == [
        op["btc_stake"] * 10_000 // shown["btc"]["held"] for op in shown["operators"]
    ]
    assert [op["operator"] for op in shown["operators"]] == operators
    stake = restaking.vault.functions.active_stake().call()
    held = shown["btc"]["held"]
    assert shown["btc"] == {"stake": stake, "held": held, "ratio_bps": stake * 10_000 // held}
    _, report = federation.audit(1)
    assert report["security"]["btc"]["stake"] == stake
    assert report["BTC"]["terms"]["bitcoin: holdings"] == report["security"]["btc"]["held"]
    # The text report (its own audit: the holdings may have moved by a fee meanwhile).
    text = federation.sluice("audit", "--config", str(federation.config_path(1))).stdout
    found = re.search(r"BTC: stake (\d+) vs held (\d+): ratio ([\d.]+)%", text)
    assert found is not None, text
    held_now = int(found[2])
    assert int(found[1]) == stake and found[3] == f"{stake * 10_000 // held_now / 100:.2f}"
    for op, op_stake in zip(operators, restaking.stakes(operators), strict=True):
        share = f"{op_stake * 10_000 // held_now / 100:.2f}%"
        assert f"operator {op} (active): {op_stake} sats ({share}), 0 USDT units (n/a)" in text
    assert shown["prices_usd"] is None and shown["ratio_bps"] is None  # no oracle prices here

    voided = get_json(f"{api}/v1/claims?status=voided&limit=100")["items"]
    assert {claim["kind"] for claim in voided} == {
        "deposit_attestation",
        "release",
        "state_commitment",
    }
    for claim in voided:
        window = claim["window"]
        assert claim["clock"] == "sidechain" and claim["court_claim_id"]
        assert window["closes_at_height"] - window["opens_at_height"] == PARAMS.claim_window
    won = get_json(f"{api}/v1/challenges?status=succeeded&limit=100")["items"]
    assert len(won) == len(voided)  # one row per accused operator's claim
    assert {challenge["evidence"]["kind"] for challenge in won} == {
        "deposit_attestation",
        "release_signature",
        "state_commitment",
    }
    commitments = get_json(f"{api}/v1/commitments")["items"]
    assert commitments and all(c["sidechain_height"] % 40 == 0 for c in commitments)


def test_no_key_reaches_a_watchers_log_or_state(federation: FederationRig) -> None:
    """The watchers signed challenges, votes, resolves and withdrawals with the members' keys
    and the challenger's: none of those keys is in their logs or state files."""
    keys = [k.evm_private_key.hex() for k in federation.keys]
    keys += [bytes(k.bitcoin.secret).hex() for k in federation.keys]
    keys.append(bytes(challenger_account(federation.challenger_key).key).hex())
    assert "vote:" in federation.watcher("member-3").log_text()
    assert "challenge:" in federation.watcher("challenger").log_text()
    for watcher in federation.watchers:
        text = (watcher.log_text() + watcher.state_path.read_text()).lower()
        assert not [key for key in keys if key in text], watcher.name
        # Every vault spend was a release some withdrawal asked for, or named by a claim.
        assert "no challenge can reach it" not in text, watcher.name
