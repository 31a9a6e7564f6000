"""The watcher's calls to the court: checked first, signed and kept before they are sent.

`sign_action` runs the call through eth_estimateGas (relayer.calls), so a refusal comes back
with the court's own reason ("challenge window closed", "operator already voted") and costs
nothing, and fixes the transaction (nonce, fees, gas) as a `Pending` the caller writes to its
state file before `send`: a watcher killed after sending resends those same bytes on restart,
so one action is one transaction. The key may be a member's, which its relayer uses too: a
pending transaction whose nonce the relayer took in the meantime is `dropped`, and the action
is decided again from the court's state.
"""

import logging

from relayer.calls import AccountCalls
from relayer.errors import CallWouldRevert, CourtRefused, NodeRpcError, ReceiptTimeout
from relayer.node_client import Receipt
from relayer.watcher.state import Pending
from sidechain.predeploys import COURT_ADDRESS

log = logging.getLogger(__name__)
RECEIPT_TIMEOUT_S = 30.0


class CourtSender(AccountCalls):
    """Sends the watcher's account's calls to the court."""

    @property
    def address(self) -> str:
        return str(self.account.address).lower()

    async def sign_action(self, action: str, data: bytes, value: int = 0) -> Pending:
        """The signed transaction of an action (not sent); `CourtRefused` with the court's
        reason if it would revert."""
        try:
            call = await self.sign(action, COURT_ADDRESS, data, value)
        except CallWouldRevert as refused:
            raise CourtRefused(action, refused.reason) from None
        return Pending(action, call.tx_hash, "0x" + call.raw.hex(), call.nonce)

    async def send(self, pending: Pending) -> Receipt | None:
        """Send (or send again) and wait for the receipt; None when the transaction is gone
        for good (its nonce used by another transaction of this key) or not mined in time."""
        receipt = await self.node.receipt(pending.tx_hash)
        if receipt is not None:
            return receipt
        try:
            await self.node.send_raw_transaction(bytes.fromhex(pending.raw[2:]))
        except NodeRpcError as error:
            if "already known" not in error.message:
                return await self._after_refusal(pending, error)
        try:
            return await self.node.wait_for_receipt(pending.tx_hash, RECEIPT_TIMEOUT_S)
        except ReceiptTimeout:
            log.warning("watcher: %s (%s) not mined yet", pending.action, pending.tx_hash)
            return None

    async def _after_refusal(self, pending: Pending, error: NodeRpcError) -> Receipt | None:
        receipt = await self.node.receipt(pending.tx_hash)
        if receipt is None:
            log.warning("watcher: %s dropped (%s); deciding again", pending.action, error.message)
        return receipt

    async def dropped(self, pending: Pending) -> bool:
        """The transaction can never be mined: another one of this key took its nonce."""
        if await self.node.receipt(pending.tx_hash) is not None:
            return False
        return await self.node.nonce(self.address, "latest") > pending.nonce
