"""Omni's class C rules for who sends and who receives, on a transaction's outputs."""

from bridge.bitcoin.blocks import Transaction, TxOutput


def sender(tx: Transaction) -> str | None:
    """Class C: the sender is the address the first input spends from."""
    return tx.first_input_address


def reference_output(tx: Transaction) -> TxOutput | None:
    """The output that receives: the only one neither OP_RETURN nor the sender's; otherwise,
    after dropping the first output back to the sender (change), the highest-index one left."""
    from_sender = sender(tx)
    candidates = [out for out in tx.outputs if out.address is not None]
    others = [out for out in candidates if out.address != from_sender]
    if len(others) == 1:
        return others[0]
    change = next((out for out in candidates if out.address == from_sender), None)
    remaining = [out for out in candidates if out is not change]
    return remaining[-1] if remaining else None
