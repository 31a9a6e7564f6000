"""Building class C transactions: the OP_RETURN, the reference output, change, in that order.

The first input decides the sender (its address is debited), so callers list the sender's
coin first; the reference output is the only output that is neither the OP_RETURN nor the
change, so it is the one the Omni rules pick as the receiver. Signing is the caller's.
"""

from collections.abc import Sequence

from bitcoin.core import CMutableTransaction, COutPoint, CTxIn, CTxOut
from bitcoin.core.script import CScript

from bridge.bitcoin.omni.errors import InsufficientFunds
from bridge.bitcoin.omni.payload import OmniMessage, op_return_script

REFERENCE_SATS = 1_000  # above the dust limit of every standard output type
DUST_SATS = 546  # change below this is left to the fee


def omni_transaction(
    spends: Sequence[tuple[COutPoint, int]],
    message: OmniMessage,
    reference_script: bytes | None,
    change_script: bytes,
    fee: int,
    reference_sats: int = REFERENCE_SATS,
) -> CMutableTransaction:
    """An unsigned version-2 transaction carrying `message` from the owner of `spends[0]`.

    `spends` are (outpoint, amount in sats); `reference_script` is the receiver's
    scriptPubKey (None for messages without one, e.g. a grant to the issuer itself).
    `change_script` must be the sender's own: any other would be a second non-sender output,
    and the Omni rules would then take the last one (the change) as the receiver.
    """
    available = sum(amount for _, amount in spends)
    paid = reference_sats if reference_script is not None else 0
    change = available - paid - fee
    if change < 0:
        raise InsufficientFunds(available, paid + fee)
    outputs = [CTxOut(0, CScript(op_return_script(message)))]
    if reference_script is not None:
        outputs.append(CTxOut(reference_sats, CScript(reference_script)))
    if change >= DUST_SATS:
        outputs.append(CTxOut(change, CScript(change_script)))
    inputs = [CTxIn(outpoint) for outpoint, _ in spends]
    return CMutableTransaction(inputs, outputs, nVersion=2)
