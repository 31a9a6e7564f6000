"""Building a vault spend (a release or a commitment anchor) as a PSBT: outputs, coins, fee, change.

Pure: the caller gives the coins and the fee rate. The output order is what the Omni class C
rules need for a USDT send in a batch: the sender's anchor first (its "change"), then the
OP_RETURN, the BTC payments, the vault change, and the USDT reference output LAST, because
with several non-sender outputs Omni takes the highest-index one as the receiver.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

from bitcoin.core import COutPoint, CTransaction, CTxIn, CTxOut, lx
from bitcoin.core.script import CScript

from bridge.bitcoin.deposit_script import DepositScript
from bridge.bitcoin.omni.payload import SimpleSend, op_return_script
from bridge.ledger import Asset, ReleasePayment
from relayer.release_errors import InsufficientVaultFunds, PaymentBelowDust
from relayer.release_psbt import Psbt, PsbtInput

RBF_SEQUENCE = 0xFFFFFFFD  # BIP125: replaceable
TX_VERSION = 2
TX_OVERHEAD_VBYTES = 11  # version, locktime, counts, segwit marker and flag (10.5, rounded up)
INCREMENTAL_FEE = 1_000  # sat per 1000 vbytes: bitcoind's default -incrementalrelayfee
SIGNATURE_BYTES = 73  # DER at its longest plus the sighash byte: never underestimate the fee
# Knots weighs the deposit script's `<recipient> OP_DROP` push as data carrier (its
# -datacarriercost), so its mempool sees each input ~17 vbytes larger than the weight says.
DATA_CARRIER_MARGIN_VBYTES = 21


@dataclass(frozen=True)
class VaultCoin:
    """An unspent output the federation can spend: a minted deposit, change, or a USDT anchor."""

    txid: str
    vout: int
    amount: int
    deposit: DepositScript  # its witness script

    @property
    def outpoint(self) -> str:
        return f"{self.txid}:{self.vout}"


@dataclass(frozen=True)
class Payout:
    """One withdrawal to pay: `amount` sats (BTC) or Omni units (USDT) to `script`."""

    withdrawal_id: str
    asset: Asset
    amount: int
    script: bytes


@dataclass(frozen=True)
class SpendRules:
    """The vault's output policy (all in sats)."""

    usdt_property_id: int
    dust_sats: int = 546  # change below this goes to the fee
    min_payment_sats: int = 1_000  # a BTC withdrawal must pay at least this (never dust)
    reference_sats: int = 1_000  # BTC carried by a USDT reference output and a sender anchor


@dataclass(frozen=True)
class SpendPlan:
    psbt: Psbt
    payments: tuple[ReleasePayment, ...]
    fee: int
    fee_rate: int  # sat per 1000 vbytes
    inputs: tuple[VaultCoin, ...]

    @property
    def txid(self) -> str:
        return self.psbt.txid


@dataclass(frozen=True)
class UsdtSource:
    """Where a USDT send comes from: the anchor coin spent first, and whether it keeps a balance."""

    anchor: VaultCoin
    keeps_balance: bool


def spend_vbytes(coins: Sequence[VaultCoin], outputs: Sequence[CTxOut]) -> int:
    """The virtual size of a spend of `coins` to `outputs`, signatures at their longest."""
    size = TX_OVERHEAD_VBYTES + sum(input_vbytes(c.deposit) for c in coins)
    return size + sum(output_vbytes(bytes(out.scriptPubKey)) for out in outputs)


def input_vbytes(deposit: DepositScript) -> int:
    """The virtual size of one multisig input spending `deposit` (signatures at their longest)."""
    script = deposit.witness_script
    items = [b"", *[b"\0" * SIGNATURE_BYTES] * deposit.threshold, script]
    if deposit.has_refund:
        items.append(b"\x01")
    witness = _varint_size(len(items)) + sum(_varint_size(len(i)) + len(i) for i in items)
    return 41 + math.ceil(witness / 4) + DATA_CARRIER_MARGIN_VBYTES


def output_vbytes(script: bytes) -> int:
    return 8 + _varint_size(len(script)) + len(script)


def fee_for(vbytes: int, fee_rate: int) -> int:
    return math.ceil(vbytes * fee_rate / 1000)


def build_spend(
    payouts: Sequence[Payout],
    coins: Sequence[VaultCoin],
    change: DepositScript,
    fee_rate: int,
    rules: SpendRules,
    *,
    usdt: UsdtSource | None = None,
    extra_outputs: Sequence[CTxOut] = (),
    required: Sequence[VaultCoin] = (),
    replaced_fee: int | None = None,
) -> SpendPlan:
    """Pay `payouts` (at most one USDT, sent from `usdt.anchor`) plus `extra_outputs` from the
    vault: `required` coins first (a replacement must conflict with what it replaces), then
    `coins` largest first until outputs and fee are covered; change to `change`. A replacement
    pays `replaced_fee` plus the incremental relay fee for its own size (BIP125 rule 4)."""

    def fee(vbytes: int) -> int:
        minimum = 0 if replaced_fee is None else replaced_fee + fee_for(vbytes, INCREMENTAL_FEE)
        return max(fee_for(vbytes, fee_rate), minimum)

    outputs, payments = _outputs(payouts, rules, usdt, extra_outputs)
    first = [usdt.anchor] if usdt is not None else []
    chosen = [*first, *(c for c in required if usdt is None or c != usdt.anchor)]
    pool = sorted((c for c in coins if c not in chosen), key=lambda c: (-c.amount, c.txid, c.vout))
    paid = sum(out.nValue for out in outputs)
    change_out_vbytes = output_vbytes(change.script_pubkey)
    while True:
        base = spend_vbytes(chosen, outputs)
        available = sum(c.amount for c in chosen)
        fee_without_change = fee(base)
        if available >= paid + fee_without_change:
            break
        if not pool:
            raise InsufficientVaultFunds(available, paid + fee_without_change)
        chosen.append(pool.pop(0))
    fee_with_change = fee(base + change_out_vbytes)
    change_amount = available - paid - fee_with_change
    if change_amount >= rules.dust_sats:
        # The change sits before a USDT reference output, which must stay last.
        position = len(outputs) - 1 if usdt is not None else len(outputs)
        outputs.insert(position, CTxOut(change_amount, CScript(change.script_pubkey)))
        payments = _shift(payments, position)
        paid_fee = fee_with_change
    else:
        paid_fee = available - paid  # change below dust is left to the fee
    tx = CTransaction(
        [CTxIn(COutPoint(lx(c.txid), c.vout), nSequence=RBF_SEQUENCE) for c in chosen],
        outputs,
        nVersion=TX_VERSION,
    )
    inputs = tuple(
        PsbtInput(CTxOut(c.amount, CScript(c.deposit.script_pubkey)), c.deposit.witness_script)
        for c in chosen
    )
    return SpendPlan(Psbt(tx, inputs), tuple(payments), paid_fee, fee_rate, tuple(chosen))


def _outputs(
    payouts: Sequence[Payout],
    rules: SpendRules,
    usdt: UsdtSource | None,
    extra_outputs: Sequence[CTxOut],
) -> tuple[list[CTxOut], list[ReleasePayment]]:
    tokens = [p for p in payouts if p.asset == Asset.USDT]
    if len(tokens) > (1 if usdt is not None else 0):
        raise ValueError("a transaction carries at most one Omni send, and needs its source")
    outputs: list[CTxOut] = []
    payments: list[ReleasePayment] = []
    if usdt is not None and usdt.keeps_balance:
        outputs.append(CTxOut(rules.reference_sats, CScript(usdt.anchor.deposit.script_pubkey)))
    for token in tokens:
        message = SimpleSend(rules.usdt_property_id, token.amount)
        outputs.append(CTxOut(0, CScript(op_return_script(message))))
    for payout in payouts:
        if payout.asset != Asset.BTC:
            continue
        if payout.amount < max(rules.min_payment_sats, rules.dust_sats):
            raise PaymentBelowDust(payout.withdrawal_id, payout.amount, rules.min_payment_sats)
        payments.append(ReleasePayment(payout.withdrawal_id, len(outputs), payout.amount))
        outputs.append(CTxOut(payout.amount, CScript(payout.script)))
    outputs.extend(extra_outputs)
    for token in tokens:
        payments.append(ReleasePayment(token.withdrawal_id, len(outputs), token.amount))
        outputs.append(CTxOut(rules.reference_sats, CScript(token.script)))
    return outputs, payments


def _shift(payments: list[ReleasePayment], inserted_at: int) -> list[ReleasePayment]:
    return [
        ReleasePayment(p.withdrawal_id, p.vout + (p.vout >= inserted_at), p.amount)
        for p in payments
    ]


def _varint_size(n: int) -> int:
    return 1 if n < 0xFD else 3 if n <= 0xFFFF else 5
