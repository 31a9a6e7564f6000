"""Recognising payments to deposit addresses in a block: BTC outputs and Omni USDT sends.

An output paying a deposit address is a BTC payment, unless it is the reference output of an
Omni transaction: then it carries that transaction's tokens and is a USDT payment (its few sats
of BTC go with it). Each payment is accepted or carries the reason the bridge refuses it, so
the ledger records it either way and nothing is silently dropped.
"""

from collections.abc import Iterable, Set
from dataclasses import dataclass, replace

from bridge.bitcoin.blocks import Block, Transaction, TxOutput
from bridge.bitcoin.omni.indexer import InvalidReason, OmniTxResult
from bridge.bitcoin.omni.payload import SimpleSend
from bridge.ledger.states import Asset, RejectReason


@dataclass(frozen=True)
class DepositRules:
    """What the bridge accepts: the USDT property, minimum amounts (base units)."""

    usdt_property_id: int
    min_btc_sats: int = 10_000
    min_usdt: int = 1_000_000  # 0.01 USDT (8 decimals)


@dataclass(frozen=True)
class Payment:
    txid: str
    vout: int
    address: str
    asset: Asset
    amount: int  # sats for BTC, Omni base units for USDT
    omni_property_id: int | None = None
    reject_reason: RejectReason | None = None
    detail: str | None = None


def recognise(
    block: Block, omni: Iterable[OmniTxResult], known: Set[str], rules: DepositRules
) -> list[Payment]:
    """Every payment in `block` to an address in `known`, in block order."""
    omni_by_txid = {result.txid: result for result in omni}
    return [
        _payment(tx, out, omni_by_txid.get(tx.txid), rules)
        for tx in block.transactions
        for out in tx.outputs
        if out.address in known
    ]


def _payment(
    tx: Transaction, out: TxOutput, omni: OmniTxResult | None, rules: DepositRules
) -> Payment:
    address = out.address
    assert address is not None
    if omni is None or omni.reference is None or omni.reference.index != out.index:
        btc = Payment(tx.txid, out.index, address, Asset.BTC, out.value)
        if out.value < rules.min_btc_sats:
            detail = f"{out.value} sats is below the minimum of {rules.min_btc_sats}"
            return _reject(btc, RejectReason.BELOW_MINIMUM, detail)
        return btc
    usdt = Payment(tx.txid, out.index, address, Asset.USDT, 0, omni.property_id)
    message = omni.message
    if not isinstance(message, SimpleSend):
        what = "an undecodable payload" if message is None else type(message).__name__
        return _reject(usdt, RejectReason.INVALID_OMNI, f"Omni transaction is {what}")
    usdt = replace(usdt, amount=message.amount)
    if omni.invalid_reason is InvalidReason.UNKNOWN_PROPERTY:
        return _reject(usdt, RejectReason.UNKNOWN_PROPERTY, f"property {omni.property_id}")
    if omni.invalid_reason is not None:
        return _reject(usdt, RejectReason.INVALID_OMNI, str(omni.invalid_reason))
    if message.property_id != rules.usdt_property_id:
        return _reject(
            usdt,
            RejectReason.UNKNOWN_PROPERTY,
            f"property {message.property_id} is not USDT ({rules.usdt_property_id})",
        )
    if message.amount < rules.min_usdt:
        detail = f"{message.amount} units is below the minimum of {rules.min_usdt}"
        return _reject(usdt, RejectReason.BELOW_MINIMUM, detail)
    return usdt


def _reject(payment: Payment, reason: RejectReason, detail: str) -> Payment:
    return replace(payment, reject_reason=reason, detail=detail)
