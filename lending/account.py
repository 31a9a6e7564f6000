"""One account of a lending daemon (the oracle's poster, the liquidator): its key file, and the
transactions it sends, each checked with eth_estimateGas first so a refusal comes back with the
contract's reason and costs nothing.

An account key file is JSON, mode 0600: {"evm_private_key": "0x<64 hex digits>"} (an
"address" entry, if present, is for people). The key never reaches a log, a repr or an error.
"""

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import Address
from eth_utils import to_checksum_address

from lending.errors import AccountKeyError, CallRefused
from relayer.errors import KeysError, NodeCallReverted, NodeRpcError
from relayer.keys import check_permissions, replace_private_file
from relayer.node_client import NodeClient, Receipt

log = logging.getLogger(__name__)
GAS_MARGIN_PERCENT = 130  # over eth_estimateGas: the state may move before inclusion
RECEIPT_TIMEOUT_S = 60.0


def load_account(key_file: Path | None, private_key: str | None, prefix: str) -> LocalAccount:
    """The account of `private_key`, else of `key_file` (checked to be 0600); the settings are
    named `<prefix>key_file` and `<prefix>private_key` in errors."""
    if private_key:
        return _account(private_key, f"{prefix}private_key")
    if key_file is None:
        raise AccountKeyError(f"no key: set {prefix}key_file or {prefix}private_key")
    try:
        check_permissions(key_file)
        raw = json.loads(key_file.read_text())
    except KeysError as error:
        raise AccountKeyError(str(error)) from None
    except (OSError, json.JSONDecodeError):
        raise AccountKeyError(f"key file {key_file} is not readable JSON") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("evm_private_key"), str):
        raise AccountKeyError(f"key file {key_file} lacks a string evm_private_key")
    return _account(raw["evm_private_key"], f"evm_private_key of {key_file}")


def _account(secret: str, where: str) -> LocalAccount:
    try:
        return Account.from_key(secret)
    except (ValueError, TypeError):
        raise AccountKeyError(f"{where} is not a 32-byte secp256k1 key in hex") from None


def write_account_file(path: Path, account: LocalAccount) -> None:
    """A key file for `account` (mode 0600, replaced atomically)."""
    body = {"address": account.address, "evm_private_key": "0x" + bytes(account.key).hex()}
    replace_private_file(path, json.dumps(body, indent=2) + "\n")


@dataclass(frozen=True)
class SignedCall:
    """A signed transaction: its hash is known before it is sent (to record it first)."""

    what: str
    tx_hash: str
    gas: int  # eth_estimateGas's figure (the limit has a margin on top)
    raw: bytes = field(repr=False)


def revert_reason(error: NodeRpcError) -> str:
    """The contract's reason from a node error ("execution reverted: <reason>")."""
    return error.message.removeprefix("execution reverted").lstrip(": ") or error.message


class Sender:
    """Sends calls from `account` over `node`: estimated first, then signed, sent, awaited."""

    def __init__(self, node: NodeClient, account: LocalAccount, chain_id: int) -> None:
        self.node = node
        self.account = account
        self.chain_id = chain_id

    @property
    def address(self) -> str:
        return str(self.account.address)

    async def estimate(self, what: str, to: Address, data: bytes, value: int = 0) -> int:
        """Gas for the call; `CallRefused` with the contract's reason if it would revert."""
        request = {
            "from": self.address,
            "to": to_checksum_address(to),
            "data": "0x" + data.hex(),
            "value": hex(value),
        }
        try:
            return int(await self.node.call("eth_estimateGas", request), 16)
        except NodeCallReverted as error:
            raise CallRefused(what, revert_reason(error)) from None
        except NodeRpcError as error:
            if "revert" not in error.message:
                raise
            raise CallRefused(what, revert_reason(error)) from None

    async def prepare(self, what: str, to: Address, data: bytes, value: int = 0) -> SignedCall:
        """Estimated (`CallRefused` if it would revert) and signed, not sent yet."""
        gas = await self.estimate(what, to, data, value)
        gas_price = int(await self.node.call("eth_gasPrice"), 16)
        tx = {
            "type": 2,
            "chainId": self.chain_id,
            "nonce": await self.node.nonce(self.address),
            "to": to_checksum_address(to),
            "value": value,
            "data": data,
            "gas": gas * GAS_MARGIN_PERCENT // 100,
            "maxFeePerGas": gas_price * 2,
            "maxPriorityFeePerGas": 0,
        }
        signed = self.account.sign_transaction(tx)
        tx_hash = "0x" + bytes(signed.hash).hex()
        return SignedCall(what, tx_hash, gas, bytes(signed.raw_transaction))

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
