"""End to end on the contracts: a dishonest quorum (two of three members) attests a deposit that
does not exist; the Bridge mints it and records the claim; a watcher challenges it with the
evidence; the honest operator votes it false; the slash covers what was minted, so the solvency
terms the audit reads (minted BTC less Bridge.locked_sats(); USDT totalSupply()) hold again."""

import pytest

from restaking.court import ClaimKind, ClaimStatus
from restaking.evidence import DepositEvidence, decode_evidence, encode_evidence, evidence_claim_id
from sidechain.attestation import Attestation

from .conftest import PARAMS, WEI_PER_SAT, ok

CHAIN_ID = 4242  # the harness's chain
BTC_ADDRESS = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
STAKE = 10**8  # each operator's BTC stake, and each one's USDT stake


def mint(bridge, federation, attestation: Attestation, signers) -> list:
    a = attestation
    result = bridge.system(
        "deposit",
        a.txid,
        a.vout,
        a.asset,
        a.amount,
        a.recipient,
        federation.sign(a, members=signers),
    )
    assert result.success, result.revert_reason
    return bridge.events(result, "Deposited")


class Supply:
    """The audit's sidechain-side terms, from the Bridge's events and views."""

    def __init__(self, bridge, usdt) -> None:
        self.bridge, self.usdt = bridge, usdt
        self.minted = {0: 0, 1: 0}

    def record(self, deposited: list) -> None:
        for event in deposited:
            self.minted[event["asset"]] += event["amount"]

    def of(self, asset: int) -> int:
        if asset == 0:
            return self.minted[0] - self.bridge.call("locked_sats")
        return self.usdt.call("totalSupply")


@pytest.mark.parametrize("asset", [0, 1])
def test_a_fake_deposit_is_challenged_slashed_and_covered(
    asset, restaking, bridge, usdt, evm, federation, operators, stakers, outsider
):
    supply = Supply(bridge, usdt)
    honest = federation.members[:2]  # any quorum signs the real deposits
    for index, operator in enumerate(operators):  # each operator stakes 1 BTC and 1 USDT
        ok(restaking.stake_btc(operator, operator, STAKE))
        real = Attestation(
            bytes([index + 1]) * 32, 0, 1, STAKE, bytes.fromhex(operator.address[2:])
        )
        supply.record(mint(bridge, federation, real, honest))
        ok(restaking.stake_usdt(operator, operator, STAKE))
    real = Attestation(b"\x09" * 32, 0, 0, 100_000, bytes.fromhex(stakers[0].address[2:]))
    supply.record(mint(bridge, federation, real, honest))
    # A user's withdrawal: Bitcoin pays 19,980 of the 20,000 given, the fee stays circulating.
    ok(bridge.transact(stakers[0], "withdraw", 0, 20_000, BTC_ADDRESS, value=20_000 * WEI_PER_SAT))
    backed = {0: 100_000 - 19_980, 1: 3 * STAKE}  # Bitcoin holdings less in flight
    assert supply.of(0) == backed[0] and supply.of(1) == backed[1]

    fake = Attestation(b"\xfa" * 32, 0, asset, 3 * 10**7, bytes.fromhex(outsider.address[2:]))
    supply.record(mint(bridge, federation, fake, operators[:2]))
    assert supply.of(asset) == backed[asset] + 3 * 10**7  # unbacked: the audit breaks

    evidence = DepositEvidence(fake, tip_hash=b"\x0b" * 32)
    data = encode_evidence(evidence)
    assert decode_evidence(data) == evidence
    claim_id = evidence_claim_id(evidence, CHAIN_ID)
    court = restaking.court
    ok(
        court.transact(
            outsider, "challenge", claim_id, data, fake.amount, value=PARAMS.min_bond_wei
        )
    )
    ok(court.transact(operators[2], "vote", claim_id, True))
    result = ok(court.transact(outsider, "resolve", claim_id))

    assert court.call("claim_of", claim_id)[1] == ClaimStatus.VOID
    [voided] = court.events(result, "ClaimVoided")
    slashed = voided["btc_slashed"] if asset == 0 else voided["usdt_slashed"]
    assert slashed == 2 * STAKE // 2  # half of each accused operator's stake
    assert bridge.call("deficit_covered", asset) == fake.amount
    assert supply.of(asset) == backed[asset]  # the audit holds again
    assert court.call("claim_of", claim_id)[0] == ClaimKind.DEPOSIT_ATTESTATION
