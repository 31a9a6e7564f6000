"""Restaking and challenges around a running federation and its watchers (one stack):
* stake with an operator, bridge fees paid out by `Bridge.distribute()` raise the exchange rate,
  unstake, claim after the unbonding delay: exact to the base unit (the vault model says so),
  a claim before the delay refused;
* the challenger watcher killed right after signing, or right after sending, its challenge
  resumes from its state file: one challenge, the claim voided;
* a frivolous challenge (of a deposit that is on Bitcoin) loses its bond: the operator's
  watcher votes the claim true (the court refuses a vote by the claim's own operators, by a
  non-operator and a second vote, each with its reason), a watcher resolves it when voting
  ends, the bond goes to the claim's operators;
* a challenge after the window is refused: `sluice watcher challenge` shows the court's reason
  and sends nothing (last: it leaves a false claim standing).
"""

from typing import Any

import pytest
from web3.exceptions import ContractLogicError
from web3.logs import DISCARD

from bridge.ledger import Asset, ChallengeStatus, DepositStatus
from regtest.util import wait_until
from relayer.testing import FederationRig
from restaking.court import ClaimKind as CourtKind
from restaking.court import ClaimStatus as CourtStatus
from restaking.court import claim_id
from restaking.evidence import DepositEvidence, encode_evidence
from restaking.vault_model import VaultModel
from sidechain.attestation import Attestation, attestation_digest
from sidechain.genesis import DEV_CHAIN_ID, DEV_RESTAKING
from sidechain.predeploys import BRIDGE_ADDRESS
from sidechain.system_tx import ASSET_BTC
from tests.relayer.releases.conftest import assert_audit_holds, fund_users, new_user
from tests.relayer.support import RELEASED, Bridge
from tests.relayer.watcher.conftest import (
    PARAMS,
    Restaking,
    confirmed,
    mint_btc_bitcoin_never_saw,
)

pytestmark = [pytest.mark.xdist_group("relayer-watcher-challenges"), pytest.mark.timeout(900)]
WEI_PER_SAT = 10**10
STAKE_SATS = 2_345_678
WITHDRAWN_SATS = 10_000_000
CRASHED = 137


@pytest.fixture(scope="module")
def users(federation: FederationRig, bridge: Bridge) -> list[Any]:
    accounts = [new_user(), new_user()]
    fund_users(federation, bridge, btc={accounts[0]: 60_000_000, accounts[1]: 30_000_000})
    return accounts


def test_stake_fees_raise_the_rate_unstake_and_claim_after_the_delay(
    federation: FederationRig, bridge: Bridge, restaking: Restaking, users: list[Any]
) -> None:
    staker = users[0]
    operators = [keys.evm.address for keys in federation.keys]
    vault = restaking.vault
    model = VaultModel(PARAMS.unbonding_blocks)
    for operator in operators:  # the genesis stake
        model.deposit(operator, operator, DEV_RESTAKING.operator_stake_sats)
    operator = operators[2]
    receipt = restaking.send(
        staker, vault.functions.deposit(operator, STAKE_SATS), STAKE_SATS * WEI_PER_SAT
    )
    [staked] = vault.events.Staked().process_receipt(receipt, errors=DISCARD)
    assert staked["args"]["shares"] == model.deposit(staker.address, operator, STAKE_SATS)
    owed_before = vault.functions.assets_of(staker.address).call()

    # A withdrawal's fee is earned once the relayers mark it released; distribute() pays it.
    withdrawal = bridge.withdraw(
        users[1], Asset.BTC, WITHDRAWN_SATS, federation.bitcoind.new_address()
    )
    federation.mine_until(
        lambda: confirmed(federation, withdrawal) and bridge.status(withdrawal)[0] == RELEASED
    )
    fee = restaking.bridge.functions.fees_earned(0).call()
    assert fee == -(-WITHDRAWN_SATS * 10 // 10_000)  # ceil(amount * fee_bps / 10000)
    receipt = restaking.send(users[1], restaking.bridge.functions.distribute())
    assert receipt["status"] == 1
    commissions = {op: DEV_RESTAKING.operator_commission_bps for op in operators}
    model.reward_all(fee, commissions)
    for op in operators:
        assert vault.functions.commission_owed(op).call() == model.commission_owed.get(op, 0)
    owed = vault.functions.assets_of(staker.address).call()
    assert owed > owed_before  # the fees raised the exchange rate

    shares = vault.functions.balanceOf(staker.address).call()
    receipt = restaking.send(staker, vault.functions.unstake(shares))
    [queued] = vault.events.UnstakeQueued().process_receipt(receipt, errors=DISCARD)
    assert queued["args"]["assets"] == owed
    index = model.unstake(staker.address, shares, receipt["blockNumber"])
    claimable_at = queued["args"]["claimable_at"]
    with pytest.raises(ContractLogicError, match="withdrawal still unbonding"):
        vault.functions.claim(index).call({"from": staker.address})
    wait_until(lambda: restaking.w3.eth.block_number + 1 >= claimable_at, timeout=120)
    before = restaking.w3.eth.get_balance(staker.address)
    receipt = restaking.send(staker, vault.functions.claim(index))
    [claimed] = vault.events.Claimed().process_receipt(receipt, errors=DISCARD)
    paid = model.claim(staker.address, index, receipt["blockNumber"])
    assert claimed["args"]["assets"] == paid == owed
    gas = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert restaking.w3.eth.get_balance(staker.address) == before + paid * WEI_PER_SAT - gas


def challenges_of(federation: FederationRig, claim: bytes) -> int:
    """How many ChallengeOpened events the court logged for `claim`."""
    return federation.read(
        3, lambda ledger: len(ledger.challenges.for_court_claim("0x" + claim.hex()))
    )


@pytest.mark.parametrize("point", ["after_challenge_signed", "after_challenge_sent"])
def test_a_killed_challenger_resumes_and_challenges_once(
    federation: FederationRig, restaking: Restaking, users: list[Any], point: str
) -> None:
    challenger = federation.watcher("challenger")
    challenger.stop()
    challenger.start(crash_at=point)
    _, claim = mint_btc_bitcoin_never_saw(federation, 1_111_111)
    wait_until(lambda: challenger.returncode == CRASHED, timeout=60)
    assert f"crash_at={point}" in challenger.log_text()
    challenger.start()
    wait_until(lambda: restaking.status(claim) == CourtStatus.VOID, timeout=120)
    rows = federation.read(3, lambda ledger: ledger.claims.for_court_claim("0x" + claim.hex()))
    wait_until(lambda: challenges_of(federation, claim) == len(rows))  # one court challenge
    assert_audit_holds(federation)


def test_a_frivolous_challenge_loses_its_bond(
    federation: FederationRig, bridge: Bridge, restaking: Restaking, users: list[Any]
) -> None:
    depositor = new_user()
    # Member 3 away while the deposit is attested: the claim is members 1 and 2's alone, so
    # member 3's watcher is the operator not party to it (with all three up, any of them may
    # attest before the quorum's mint).
    away = federation.relayer(3)
    away.stop()
    try:
        fund_users(federation, bridge, btc={depositor: 20_000_000})
    finally:
        away.start()

    def minted() -> list[Any]:
        return federation.read(
            1,
            lambda ledger: [
                d
                for d in ledger.deposits.with_status(DepositStatus.MINTED)
                if d.recipient == depositor.address.lower()
            ],
        )

    wait_until(minted)
    (deposit,) = minted()
    attested = Attestation(
        bytes.fromhex(deposit.txid),
        deposit.vout,
        ASSET_BTC,
        deposit.amount,
        bytes.fromhex(depositor.address[2:]),
    )
    claim = claim_id(
        CourtKind.DEPOSIT_ATTESTATION, attestation_digest(attested, DEV_CHAIN_ID, BRIDGE_ADDRESS)
    )
    operators = restaking.court.functions.claim_operators(claim).call()
    before = restaking.stakes(operators)
    bond = restaking.court.functions.min_bond().call()
    evidence = encode_evidence(DepositEvidence(attested, bytes(32)))
    call = restaking.court.functions.challenge(claim, evidence, deposit.amount)
    receipt = restaking.send(users[1], call, bond)
    assert receipt["status"] == 1, "the challenge must come within the window"
    court = restaking.court.functions
    # Votes the court refuses, with its reasons: an accused operator, a non-operator, a second
    # vote of the operator whose watcher voted.
    with pytest.raises(ContractLogicError, match="operator made the claim"):
        court.vote(claim, False).call({"from": operators[0]})
    with pytest.raises(ContractLogicError, match="not an operator"):
        court.vote(claim, True).call({"from": users[1].address})
    (voter,) = {keys.evm.address for keys in federation.keys} - set(operators)
    wait_until(lambda: court.has_voted(claim, voter).call(), timeout=60, poll=0.2)
    with pytest.raises(ContractLogicError, match="operator already voted"):
        court.vote(claim, True).call({"from": voter})

    wait_until(lambda: restaking.status(claim) == CourtStatus.STANDS, timeout=120)
    assert restaking.court.functions.payouts(users[1].address).call() == 0
    after = restaking.stakes(operators)
    assert sum(after) > sum(before)  # the bond went to the claim's operators' pools
    court_id = "0x" + claim.hex()
    wait_until(
        lambda: (
            federation.read(
                3, lambda ledger: {c.status for c in ledger.challenges.for_court_claim(court_id)}
            )
            == {ChallengeStatus.FAILED}
        )
    )


def test_a_challenge_after_the_window_is_refused(
    federation: FederationRig, restaking: Restaking, users: list[Any]
) -> None:
    challenger = federation.watcher("challenger")
    challenger.stop()
    _, claim = mint_btc_bitcoin_never_saw(federation, 2_222_222)
    closes_at = restaking.court.functions.claim_of(claim).call()[6]
    wait_until(lambda: restaking.w3.eth.block_number + 1 >= closes_at, timeout=120)
    done = federation.sluice(
        "watcher",
        "challenge",
        "--config",
        str(challenger.config_path),
        "--claim",
        "0x" + claim.hex(),
    )
    assert done.returncode == 1, done.stderr
    assert "refused: challenge window closed" in done.stderr
    assert restaking.status(claim) == CourtStatus.OPEN
    challenger.start()
    assert restaking.status(claim) == CourtStatus.OPEN
