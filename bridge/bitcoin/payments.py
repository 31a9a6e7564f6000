"""Recognising payments to deposit addresses in a block: BTC outputs and Omni USDT sends.

An output paying a deposit address is a BTC payment, unless it is the reference output of an
Omni transaction: then it carries that transaction's tokens and is a USDT payment (its few sats
of BTC go with it). Each payment is accepted or carries the reason the bridge refuses it, so
the ledger records it either way and nothing is silently dropped.

A payment has a bad script (`RejectReason.BAD_SCRIPT`) when the federation cannot sweep it with
the script the bridge keeps for its address: that script is not a deposit script, the output
is not its P2WSH, or it names another federation (keys or threshold) than the one the bridge
runs now, e.g. an address handed out before the federation changed. The depositor takes such
a payment back through the script's refund branch, or the federation that owns it returns it.
"""

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from bridge.bitcoin.blocks import Block, Transaction, TxOutput
from bridge.bitcoin.deposit_script import DepositScript
from bridge.bitcoin.omni.indexer import InvalidReason, OmniTxResult
from bridge.bitcoin.omni.payload import SimpleSend
from bridge.bitcoin.script_errors import NotADepositScript
from bridge.ledger.states import Asset, RejectReason


@dataclass(frozen=True)
class Federation:
    """The keys (any order) and threshold that spend deposits now."""

    keys: frozenset[bytes]
    threshold: int


@dataclass(frozen=True)
class DepositRules:
    """What the bridge accepts: the USDT property, minimum amounts (base units), and, when
    given, the federation a deposit script must name (None: the script's own is trusted)."""

    usdt_property_id: int
    min_btc_sats: int = 10_000
    min_usdt: int = 1_000_000  # 0.01 USDT (8 decimals)
    federation: Federation | None = None


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
    block: Block,
    omni: Iterable[OmniTxResult],
    known: Mapping[str, bytes],
    rules: DepositRules,
) -> list[Payment]:
    """Every payment in `block` to an address in `known` (address -> its witness script), in
    block order."""
    omni_by_txid = {result.txid: result for result in omni}
    payments = []
    for tx in block.transactions:
        for out in tx.outputs:
            if out.address in known:
                payment = _payment(tx, out, omni_by_txid.get(tx.txid), rules)
                problem = script_problem(known[out.address], out.script_pubkey, rules.federation)
                if problem is not None:
                    payment = _reject(payment, RejectReason.BAD_SCRIPT, problem)
                payments.append(payment)
    return payments


@functools.lru_cache(maxsize=8192)
def script_problem(
    witness_script: bytes, script_pubkey: bytes, federation: Federation | None
) -> str | None:
    """Why the federation cannot spend an output of `script_pubkey` with `witness_script`, or
    None when it can (cached: an address is paid again and again)."""
    try:
        script = DepositScript.parse(witness_script)
    except NotADepositScript as error:
        return f"the address's script is not a deposit script: {error}"
    if script.script_pubkey != script_pubkey:
        return "the output is not the P2WSH of the deposit script kept for its address"
    if federation is not None and (
        frozenset(script.federation_keys) != federation.keys
        or script.threshold != federation.threshold
    ):
        return (
            f"the script is for a {script.threshold}-of-{len(script.federation_keys)} "
            "federation that is not the bridge's current one "
            f"({federation.threshold}-of-{len(federation.keys)})"
        )
    return None


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
        detail = f"the Omni transaction is {what}, not a simple send"
        return _reject(usdt, RejectReason.INVALID_OMNI, detail)
    usdt = replace(usdt, amount=message.amount)
    if omni.invalid_reason is InvalidReason.UNKNOWN_PROPERTY:
        detail = f"Omni property {omni.property_id} does not exist: no tokens moved"
        return _reject(usdt, RejectReason.UNKNOWN_PROPERTY, detail)
    if omni.invalid_reason is not None:
        detail = f"the Omni rules void this send ({omni.invalid_reason}): no tokens moved"
        return _reject(usdt, RejectReason.INVALID_OMNI, detail)
    if message.property_id != rules.usdt_property_id:
        detail = (
            f"property {message.property_id} is not USDT ({rules.usdt_property_id}); "
            "its tokens are at the deposit address"
        )
        return _reject(usdt, RejectReason.UNKNOWN_PROPERTY, detail)
    if message.amount < rules.min_usdt:
        detail = f"{message.amount} units is below the minimum of {rules.min_usdt}"
        return _reject(usdt, RejectReason.BELOW_MINIMUM, detail)
    return usdt


def _reject(payment: Payment, reason: RejectReason, detail: str) -> Payment:
    return replace(payment, reject_reason=reason, detail=detail)
