"""Ledger rows as the JSON the API returns (the shapes `openapi.py` documents).

Bitcoin-side amounts (sats, Omni units) are JSON integers: they stay below 2**53. Sidechain
amounts (wei) can exceed what a JavaScript number holds exactly, so they are decimal strings.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bridge.bitcoin.omni.payload import SimpleSend, op_return_script
from bridge.ledger.models import (
    Challenge,
    Claim,
    Deposit,
    DepositAddress,
    Release,
    StateCommitment,
    Withdrawal,
)
from bridge.ledger.states import (
    Asset,
    DepositStatus,
    RejectReason,
    WindowClock,
    WithdrawalStatus,
)

Json = dict[str, Any]

REFUSED = (DepositStatus.REJECTED, DepositStatus.REFUNDED)  # deposits that show a rejection

REJECT_REASONS = {
    RejectReason.BELOW_MINIMUM: "the amount is below the bridge's minimum deposit",
    RejectReason.UNKNOWN_PROPERTY: "the Omni property paid is not the bridged USDT",
    RejectReason.INVALID_OMNI: (
        "the Omni transaction is not a valid simple send: its payload could not be read, it is "
        "another kind of Omni message, or the Omni rules void it (e.g. it sends more than its "
        "sender holds)"
    ),
    RejectReason.BAD_SCRIPT: (
        "the federation cannot spend this output: the address's script is not the deposit "
        "script the output pays, or it names another federation than the bridge's current one"
    ),
}


@dataclass(frozen=True)
class Heights:
    """The chains' tips when the answer was built (None: that chain did not answer)."""

    bitcoin: int | None
    sidechain: int | None

    def of(self, clock: WindowClock) -> int | None:
        return self.bitcoin if clock == WindowClock.BITCOIN else self.sidechain


def timestamp(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def deposit_address_view(row: DepositAddress) -> Json:
    return {
        "address": row.address,
        "witness_script": row.witness_script,
        "evm_address": row.recipient,
        "refund_pubkey": row.refund_pubkey,
        "refund_timeout_blocks": row.refund_timeout,
        "created_at": timestamp(row.created_at),
    }


def deposit_view(
    deposit: Deposit, address: DepositAddress | None, required: int, detail: str | None = None
) -> Json:
    """A deposit with what the user needs next: its mint, or why it was refused and the refund.

    `detail` is the scanner's own words about a rejection (e.g. "3000 sats is below the minimum
    of 10000"), from the ledger's audit log."""
    mint = None
    if deposit.mint_tx_hash is not None:
        mint = {"tx_hash": deposit.mint_tx_hash, "block": deposit.mint_block}
    rejection = None
    if deposit.status in REFUSED:
        reason = deposit.reject_reason
        rejection = {
            "reason": None if reason is None else str(reason),
            "explanation": REJECT_REASONS.get(reason, "refused by the bridge")
            if reason
            else "refused by the bridge",
            "detail": detail,
            "refund": _refund(deposit, address),
        }
    return {
        "id": deposit.id,
        "txid": deposit.txid,
        "vout": deposit.vout,
        "asset": str(deposit.asset),
        "amount": deposit.amount,
        "omni_property_id": deposit.omni_property_id,
        "deposit_address": deposit.deposit_address,
        "evm_address": deposit.recipient,
        "status": str(deposit.status),
        "confirmations": deposit.confirmations,
        "required_confirmations": required,
        "block_height": deposit.block_height,
        "block_hash": deposit.block_hash,
        "mint": mint,
        "rejection": rejection,
        "created_at": timestamp(deposit.created_at),
        "updated_at": timestamp(deposit.updated_at),
    }


def _tokens(deposit: Deposit) -> SimpleSend | None:
    """The Omni send that returns a USDT deposit's tokens (None: a BTC deposit, or no amount)."""
    if deposit.asset != Asset.USDT or deposit.omni_property_id is None or deposit.amount <= 0:
        return None
    return SimpleSend(deposit.omni_property_id, deposit.amount)


def _refund(deposit: Deposit, address: DepositAddress | None) -> Json:
    tokens = _tokens(deposit)
    omni_send = None
    if tokens is not None:
        omni_send = {
            "property_id": tokens.property_id,
            "amount": tokens.amount,
            "op_return": op_return_script(tokens).hex(),
        }
    if address is not None and address.refund_pubkey and address.refund_timeout:
        instructions = (
            f"After {address.refund_timeout} blocks from the deposit's block, spend output "
            f"{deposit.id} through the script's OP_ELSE branch: witness <signature of the "
            "refund key> <empty> <witness_script>, input nSequence = the timeout."
        )
        if tokens is not None:
            instructions += (
                f" The output holds only sats; the {tokens.amount} units of Omni property "
                f"{tokens.property_id} sit in the deposit address's Omni balance. To return "
                "them, spend that output as the only input (so the deposit address is the "
                "Omni sender) to two outputs: first an OP_RETURN with omni_send.op_return, "
                "then your refund address, which the Omni rules make the receiver of the "
                "tokens and which gets the sats left after the fee (at least 546). If the "
                "deposit's Omni transaction was void (see detail), no tokens arrived and only "
                "the sats come back."
            )
        elif deposit.asset == Asset.USDT:
            instructions += " The deposit's Omni message moved no known amount: only sats return."
        return {
            "method": "refund_key",
            "spendable_from_height": deposit.block_height + address.refund_timeout,
            "timeout_blocks": address.refund_timeout,
            "witness_script": address.witness_script,
            "omni_send": omni_send,
            "instructions": instructions,
        }
    returned = f"outpoint {deposit.id}"
    if tokens is not None:
        returned += f" and the {tokens.amount} units of Omni property {tokens.property_id} it sent"
    return {
        "method": "federation",
        "spendable_from_height": None,
        "timeout_blocks": None,
        "witness_script": None if address is None else address.witness_script,
        "omni_send": omni_send,
        "instructions": (
            "The deposit address has no refund key: the federation must sign the refund. "
            f"Ask the bridge operators to return {returned}."
        ),
    }


def release_view(release: Release | None) -> Json | None:
    if release is None:
        return None
    return {
        "txid": release.txid,
        "status": str(release.status),
        "confirmations": release.confirmations,
        "block_height": release.block_height,
    }


def window_view(opened: int | None, closes: int | None, tip: int | None) -> Json | None:
    """A fraud-proof window [opened, closes] and how many blocks are left at `tip`."""
    if opened is None or closes is None:
        return None
    return {
        "opens_at_height": opened,
        "closes_at_height": closes,
        "blocks_left": None if tip is None else max(0, closes - tip),
    }


def withdrawal_view(withdrawal: Withdrawal, release: Release | None, heights: Heights) -> Json:
    window = window_view(
        withdrawal.window_opened_at_height, withdrawal.window_closes_at_height, heights.bitcoin
    )
    if window is not None:
        window["open"] = withdrawal.status == WithdrawalStatus.WINDOW_OPEN
    return {
        "id": withdrawal.id,
        "sender": withdrawal.sender,
        "asset": str(withdrawal.asset),
        "amount": withdrawal.amount,
        "burned_amount": str(withdrawal.burned_amount),
        "bitcoin_address": withdrawal.bitcoin_address,
        "sidechain_tx_hash": withdrawal.sidechain_tx_hash,
        "sidechain_block": withdrawal.sidechain_block,
        "log_index": withdrawal.log_index,
        "status": str(withdrawal.status),
        "challenge_window": window,
        "release": release_view(release),
        "refund_tx_hash": withdrawal.refund_tx_hash,
        "created_at": timestamp(withdrawal.created_at),
        "updated_at": timestamp(withdrawal.updated_at),
    }


def claim_view(claim: Claim, heights: Heights) -> Json:
    window = window_view(claim.opened_at_height, claim.closes_at_height, heights.of(claim.clock))
    return {
        "id": claim.id,
        "kind": str(claim.kind),
        "subject": claim.subject,
        "operator": claim.operator,
        "clock": str(claim.clock),
        "window": window,
        "status": str(claim.status),
        "court_claim_id": claim.court_claim_id,
        "created_at": timestamp(claim.created_at),
        "updated_at": timestamp(claim.updated_at),
    }


def challenge_view(challenge: Challenge) -> Json:
    return {
        "id": challenge.id,
        "claim_id": challenge.claim_id,
        "challenger": challenge.challenger,
        "bond": str(challenge.bond),
        "evidence": challenge.evidence,
        "status": str(challenge.status),
        "reward": None if challenge.reward is None else str(challenge.reward),
        "court_challenge_id": challenge.court_challenge_id,
        "tx_hash": challenge.tx_hash,
        "created_at": timestamp(challenge.created_at),
        "updated_at": timestamp(challenge.updated_at),
    }


def commitment_view(commitment: StateCommitment) -> Json:
    return {
        "sidechain_height": commitment.sidechain_height,
        "state_root": commitment.state_root,
        "status": str(commitment.status),
        "bitcoin_txid": commitment.bitcoin_txid,
        "bitcoin_block_height": commitment.bitcoin_block_height,
        "confirmations": commitment.confirmations,
        "created_at": timestamp(commitment.created_at),
        "updated_at": timestamp(commitment.updated_at),
    }


def page_view(items: Sequence[Json], next_cursor: str | None) -> Json:
    return {"items": list(items), "next_cursor": next_cursor}
