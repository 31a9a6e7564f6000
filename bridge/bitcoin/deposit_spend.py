"""Spending a deposit output: m federation signatures, or the depositor's refund after timeout.

A USDT deposit is an Omni simple send whose reference output paid the deposit address: the
tokens sit in the Omni balance of that address, the output holds only a few sats. Its refund
spends that output (the only input, so the deposit address is the Omni sender) and carries a
simple send of the tokens to the refund address, the one output besides the OP_RETURN (so it
is the reference, the receiver); the sats left after the fee go with it.
"""

from collections.abc import Iterable, Mapping

from bitcoin.core import (
    CMutableTransaction,
    COutPoint,
    CTransaction,
    CTxIn,
    CTxInWitness,
    CTxOut,
    CTxWitness,
)
from bitcoin.core.script import (
    SIGHASH_ALL,
    SIGVERSION_WITNESS_V0,
    CScript,
    CScriptWitness,
    SignatureHash,
)
from coincurve import PrivateKey, PublicKey

from bridge.bitcoin.deposit_script import DepositScript
from bridge.bitcoin.omni.payload import SimpleSend, op_return_script
from bridge.bitcoin.omni.transactions import DUST_SATS
from bridge.bitcoin.script_errors import (
    FeeTooHigh,
    NoRefundBranch,
    NotEnoughSignatures,
    NotTheRefundKey,
    UnknownSigner,
)

REFUND_TX_VERSION = 2  # BIP68 relative locks only apply from version 2
_MULTISIG_BRANCH = b"\x01"  # MINIMALIF: OP_IF takes exactly 0x01 or empty
_REFUND_BRANCH = b""


def signature_hash(tx: CTransaction, index: int, amount: int, deposit: DepositScript) -> bytes:
    """The BIP143 digest that signs input `index` spending `amount` sats of this deposit."""
    script = CScript(deposit.witness_script)
    return bytes(SignatureHash(script, tx, index, SIGHASH_ALL, amount, SIGVERSION_WITNESS_V0))


def sign_digest(digest: bytes, key: PrivateKey) -> bytes:
    """A DER signature (low-S, as libsecp256k1 makes them) followed by SIGHASH_ALL."""
    return key.sign(digest, hasher=None) + bytes([SIGHASH_ALL])


def federation_witness(
    deposit: DepositScript, digest: bytes, signatures: Mapping[bytes, bytes]
) -> CScriptWitness:
    """The witness for the multisig branch from {federation public key: signature}.

    Each signature is checked against its key; the first `threshold` in key order are used,
    because OP_CHECKMULTISIG consumes signatures in the order of the keys.
    """
    for key, signature in signatures.items():
        if key not in deposit.federation_keys or not _verifies(key, signature, digest):
            raise UnknownSigner(key)
    ordered = [signatures[key] for key in deposit.federation_keys if key in signatures]
    if len(ordered) < deposit.threshold:
        raise NotEnoughSignatures(len(ordered), deposit.threshold)
    branch = [_MULTISIG_BRANCH] if deposit.has_refund else []
    # b"" first: OP_CHECKMULTISIG pops one extra item (the historical off-by-one).
    return CScriptWitness([b"", *ordered[: deposit.threshold], *branch, deposit.witness_script])


def sign_federation_input(
    tx: CMutableTransaction,
    index: int,
    amount: int,
    deposit: DepositScript,
    keys: Iterable[PrivateKey],
) -> None:
    """Put the multisig witness for input `index` into `tx`, signed by the given members."""
    digest = signature_hash(tx, index, amount, deposit)
    signatures = {key.public_key.format(): sign_digest(digest, key) for key in keys}
    _set_witness(tx, index, federation_witness(deposit, digest, signatures))


def build_refund(
    outpoint: COutPoint,
    amount: int,
    deposit: DepositScript,
    refund_key: PrivateKey,
    destination_script: bytes,
    fee: int,
    tokens: SimpleSend | None = None,
) -> CTransaction:
    """The depositor's refund of output `outpoint` (`amount` sats) to `destination_script`,
    valid once the deposit has `deposit.timeout` confirmations. With `tokens`, the Omni tokens
    the deposit brought to the address go to the same destination."""
    if deposit.refund_key is None or deposit.timeout is None:
        raise NoRefundBranch(deposit.witness_script)
    if refund_key.public_key.format() != deposit.refund_key:
        raise NotTheRefundKey(refund_key.public_key.format(), deposit.refund_key)
    keep = 1 if tokens is None else DUST_SATS  # the tokens' receiver must be a standard output
    if amount - fee < keep:
        raise FeeTooHigh(fee, amount, keep)
    outputs = [CTxOut(amount - fee, CScript(destination_script))]
    if tokens is not None:
        outputs.insert(0, CTxOut(0, CScript(op_return_script(tokens))))
    tx = CMutableTransaction(
        [CTxIn(outpoint, nSequence=deposit.timeout)], outputs, nVersion=REFUND_TX_VERSION
    )
    digest = signature_hash(tx, 0, amount, deposit)
    signature = sign_digest(digest, refund_key)
    _set_witness(tx, 0, CScriptWitness([signature, _REFUND_BRANCH, deposit.witness_script]))
    return CTransaction.from_tx(tx)


def _verifies(key: bytes, signature: bytes, digest: bytes) -> bool:
    if not signature or signature[-1] != SIGHASH_ALL:
        return False
    return bool(PublicKey(key).verify(signature[:-1], digest, hasher=None))


def _set_witness(tx: CMutableTransaction, index: int, witness: CScriptWitness) -> None:
    witnesses = list(tx.wit.vtxinwit) if tx.wit.vtxinwit else []
    witnesses += [CTxInWitness() for _ in range(len(tx.vin) - len(witnesses))]
    witnesses[index] = CTxInWitness(witness)
    tx.wit = CTxWitness(witnesses)
