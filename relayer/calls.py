"""Transactions a daemon's own account sends to the sidechain (the watcher's court calls, the
lending daemons' pool and oracle calls): estimated first, so a refusal comes back with the
contract's reason and costs nothing, then signed with a gas margin, and only then sent (the
caller may record the signed bytes first, to resend them after a crash)."""

from dataclasses import dataclass, field

from eth_account.signers.local import LocalAccount
from eth_typing import Address
from eth_utils import to_checksum_address

from relayer.errors import CallWouldRevert, NodeCallReverted, NodeRpcError
from relayer.node_client import NodeClient

GAS_MARGIN_PERCENT = 130  # over eth_estimateGas: the state may move before inclusion


@dataclass(frozen=True)
class SignedCall:
    """A signed transaction, not sent: its hash is known before it is sent."""

    what: str  # what the call does, for logs and state files
    tx_hash: str
    nonce: int
    gas: int  # eth_estimateGas's figure (the limit has a margin on top)
    raw: bytes = field(repr=False)


def revert_reason(error: NodeRpcError) -> str:
    """The contract's reason in a node error ("execution reverted: <reason>")."""
    return error.message.removeprefix("execution reverted").lstrip(": ") or error.message


class AccountCalls:
    """The calls of one daemon account over one node (the watcher's, a lending daemon's)."""

    def __init__(self, node: NodeClient, account: LocalAccount, chain_id: int) -> None:
        self.node = node
        self.account = account
        self.chain_id = chain_id

    async def estimate(self, to: Address | str, data: bytes, value: int = 0) -> int:
        """Gas for the call from this account; `CallWouldRevert` with the contract's reason."""
        request = {
            "from": to_checksum_address(self.account.address),
            "to": to_checksum_address(to),
            "data": "0x" + data.hex(),
            "value": hex(value),
        }
        try:
            return int(await self.node.call("eth_estimateGas", request), 16)
        except NodeCallReverted as error:
            raise CallWouldRevert(revert_reason(error)) from None
        except NodeRpcError as error:
            if "revert" not in error.message:
                raise
            raise CallWouldRevert(revert_reason(error)) from None

    async def sign(self, what: str, to: Address | str, data: bytes, value: int = 0) -> SignedCall:
        """The call estimated (`CallWouldRevert`) and signed at the next nonce, not sent."""
        gas = await self.estimate(to, data, value)
        nonce = await self.node.nonce(self.account.address)
        gas_price = int(await self.node.call("eth_gasPrice"), 16)
        tx = {
            "type": 2,
            "chainId": self.chain_id,
            "nonce": nonce,
            "to": to_checksum_address(to),
            "value": value,
            "data": data,
            "gas": gas * GAS_MARGIN_PERCENT // 100,
            "maxFeePerGas": gas_price * 2,
            "maxPriorityFeePerGas": 0,
        }
        signed = self.account.sign_transaction(tx)
        tx_hash = "0x" + bytes(signed.hash).hex()
        return SignedCall(what, tx_hash, nonce, gas, bytes(signed.raw_transaction))
