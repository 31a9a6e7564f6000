"""One account of a lending daemon (the oracle's poster, the liquidator): its key file, and the
transactions it sends, each checked with eth_estimateGas first so a refusal comes back with the
contract's reason and costs nothing.

An account key file is JSON, mode 0600: {"evm_private_key": "0x<64 hex digits>"} (an
"address" entry, if present, is for people). The key never reaches a log, a repr or an error.
"""

import json
from pathlib import Path

from eth_account.signers.local import LocalAccount
from eth_typing import Address

from lending.errors import AccountKeyError, CallRefused
from relayer import keys
from relayer.calls import AccountCalls, SignedCall
from relayer.errors import CallWouldRevert, KeysError
from relayer.keys import replace_private_file
from relayer.node_client import Receipt

RECEIPT_TIMEOUT_S = 60.0


def load_account(key_file: Path | None, private_key: str | None, prefix: str) -> LocalAccount:
    """The account of `private_key`, else of `key_file` (checked to be 0600); the settings are
    named `<prefix>key_file` and `<prefix>private_key` in errors."""
    try:
        return keys.load_account(key_file, private_key, prefix)
    except KeysError as error:
        raise AccountKeyError(str(error)) from None


def write_account_file(path: Path, account: LocalAccount) -> None:
    """A key file for `account` (mode 0600, replaced atomically)."""
    body = {"address": account.address, "evm_private_key": "0x" + bytes(account.key).hex()}
    replace_private_file(path, json.dumps(body, indent=2) + "\n")


class Sender(AccountCalls):
    """Sends calls from `account` over `node`: estimated first, then signed, sent, awaited."""

    @property
    def address(self) -> str:
        return str(self.account.address)

    async def prepare(self, what: str, to: Address, data: bytes, value: int = 0) -> SignedCall:
        """Estimated (`CallRefused` with the contract's reason if it would revert) and signed,
        not sent yet."""
        try:
            return await self.sign(what, to, data, value)
        except CallWouldRevert as refused:
            raise CallRefused(what, refused.reason) from None

    async def send(
        self, what: str, to: Address, data: bytes, value: int = 0, wait: bool = True
    ) -> str:
        """Prepare and send; the transaction hash (its receipt awaited when `wait`:
        `CallRefused` if it reverted after all)."""
        call = await self.prepare(what, to, data, value)
        await self.node.send_raw_transaction(call.raw)
        if wait:
            await self.receipt(what, call.tx_hash)
        return call.tx_hash

    async def receipt(self, what: str, tx_hash: str) -> Receipt:
        receipt = await self.node.wait_for_receipt(tx_hash, RECEIPT_TIMEOUT_S)
        if not receipt.succeeded:
            raise CallRefused(what, f"transaction {tx_hash} reverted")
        return receipt
