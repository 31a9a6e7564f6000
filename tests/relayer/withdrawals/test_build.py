"""Building a vault spend: no dust, exact payments, a fee never below the rate, a valid PSBT."""

import pytest
from coincurve import PrivateKey

from bridge.bitcoin.deposit_script import DepositScript
from bridge.bitcoin.deposit_spend import sign_digest, signature_hash
from bridge.ledger import Asset
from regtest.node import BitcoindNode
from relayer.release_build import Payout, SpendRules, VaultCoin, build_spend
from relayer.release_errors import InsufficientVaultFunds, PaymentBelowDust
from relayer.signing import finalize
from relayer.vault import ZERO_RECIPIENT

KEYS = [PrivateKey() for _ in range(3)]
RULES = SpendRules(usdt_property_id=3)
CHANGE = DepositScript(ZERO_RECIPIENT, tuple(k.public_key.format() for k in KEYS), 2)
DEPOSIT = DepositScript.create("0x" + "ab" * 20, [k.public_key.format() for k in KEYS], 2)
PAYEE = bytes.fromhex("0014" + "cd" * 20)


def coin(amount: int, n: int = 0) -> VaultCoin:
    return VaultCoin(f"{n + 1:064x}", 0, amount, DEPOSIT)


def test_change_below_dust_goes_to_the_fee() -> None:
    plan = build_spend(
        [Payout("0x01", Asset.BTC, 99_500, PAYEE)], [coin(100_000)], CHANGE, 1_000, RULES
    )
    assert len(plan.psbt.tx.vout) == 1
    assert plan.fee == 500


def test_a_payment_below_the_minimum_is_refused() -> None:
    with pytest.raises(PaymentBelowDust):
        build_spend([Payout("0x01", Asset.BTC, 999, PAYEE)], [coin(100_000)], CHANGE, 1_000, RULES)


def test_the_vault_refuses_to_spend_more_than_it_holds() -> None:
    with pytest.raises(InsufficientVaultFunds):
        build_spend(
            [Payout("0x01", Asset.BTC, 90_000, PAYEE)], [coin(90_100)], CHANGE, 2_000, RULES
        )


def test_the_signed_spend_is_no_larger_than_estimated_and_bitcoind_reads_the_psbt(
    bitcoind: BitcoindNode,
) -> None:
    payouts = [Payout(f"0x{n:02x}", Asset.BTC, 10_000 + n, PAYEE) for n in range(5)]
    plan = build_spend(payouts, [coin(20_000, n) for n in range(4)], CHANGE, 3_000, RULES)
    decoded = bitcoind.rpc("decodepsbt", plan.psbt.to_base64(), wallet=False)
    assert decoded["tx"]["txid"] == plan.txid
    assert decoded["fee"] * 10**8 == pytest.approx(plan.fee)
    signed = plan.psbt
    for key in KEYS[:2]:
        signed = signed.with_signatures(
            {
                i: {
                    key.public_key.format(): sign_digest(
                        signature_hash(signed.tx, i, e.witness_utxo.nValue, DEPOSIT), key
                    )
                }
                for i, e in enumerate(signed.inputs)
            }
        )
    tx = finalize(signed)
    vsize = bitcoind.rpc("decoderawtransaction", tx.serialize().hex(), wallet=False)["vsize"]
    assert plan.fee >= vsize * 3  # 3 sat/vB at least
    assert [o.nValue for o in tx.vout[:5]] == [10_000 + n for n in range(5)]
