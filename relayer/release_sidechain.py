"""The withdrawal flow's calls to the sidechain, over the relayer's `NodeClient`: withdrawal
events as ledger-ready values, the Bridge's view of a withdrawal and of a commitment, state
roots, and the federation-signed Bridge transactions a member sends (`mark_released`, `refund`,
`record_commitment`)."""

from collections.abc import Sequence
from dataclasses import dataclass

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address

from bridge.ledger import Asset
from relayer import node_client
from relayer.node_client import NodeClient
from relayer.release_errors import BridgeCallFailed
from restaking.commitment import Commitment, record_commitment_calldata
from sidechain.system_tx import WEI_PER_SAT

WITHDRAWALS = keccak(text="withdrawals(uint256)")[:4]
# Bridge.withdrawals(id): sender, asset, amount (what Bitcoin pays), status, btc_txid, fee
WITHDRAWAL_FIELDS = ["address", "uint8", "uint256", "uint8", "bytes32", "uint256"]
MARK_RELEASED = keccak(text="mark_released(uint256,bytes32,bytes[])")[:4]
REFUND = keccak(text="refund(uint256,bytes[])")[:4]
COMMITMENTS = keccak(text="commitments(uint64)")[:4]
ASSETS = {0: Asset.BTC, 1: Asset.USDT}
BRIDGE_TX_GAS = 400_000
RECEIPT_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class WithdrawalRequest:
    """A WithdrawalRequested log, keyed as the ledger keys it."""

    withdrawal_id: str  # 0x + 64 hex digits
    sender: str
    asset: Asset
    amount: int  # sats / USDT units
    bitcoin_address: str
    tx_hash: str
    block_number: int
    log_index: int

    @property
    def burned_amount(self) -> int:
        return self.amount * WEI_PER_SAT if self.asset == Asset.BTC else self.amount


@dataclass(frozen=True)
class WithdrawalRefunded:
    withdrawal_id: str
    tx_hash: str


def withdrawal_id_hex(withdrawal_id: int) -> str:
    return f"0x{withdrawal_id:064x}"


def ordered_signatures(signatures: dict[str, bytes]) -> list[bytes]:
    """The Bridge wants signatures ordered by signer address, strictly ascending."""
    return [signatures[signer] for signer in sorted(signatures, key=lambda a: int(a, 16))]


class BridgeChain:
    """Reads the Bridge's withdrawal events and sends its federation-signed calls."""

    def __init__(self, node: NodeClient, bridge_address: bytes, chain_id: int) -> None:
        self._node = node
        self._bridge = to_checksum_address(bridge_address)
        self._chain_id = chain_id

    async def height(self) -> int:
        return await self._node.block_number()

    async def state_root(self, height: int) -> str | None:
        block = await self._node.call("eth_getBlockByNumber", hex(height), False)
        return None if block is None else str(block["stateRoot"]).lower()

    async def withdrawal_events(
        self, first: int, last: int
    ) -> list[WithdrawalRequest | WithdrawalRefunded]:
        """The Bridge's WithdrawalRequested and WithdrawalRefunded events in [first, last]."""
        names = ["WithdrawalRequested", "WithdrawalRefunded"]
        events: list[WithdrawalRequest | WithdrawalRefunded] = []
        for event in await self._node.bridge_events(first, last, names):
            at = event.at  # type: ignore[union-attr]
            if isinstance(event, node_client.WithdrawalRequested):
                events.append(
                    WithdrawalRequest(
                        withdrawal_id=withdrawal_id_hex(event.withdrawal_id),
                        sender=event.sender.lower(),
                        asset=ASSETS[event.asset],
                        amount=event.amount,
                        bitcoin_address=event.bitcoin_address,
                        tx_hash=at.tx_hash.lower(),
                        block_number=at.block_number,
                        log_index=at.log_index,
                    )
                )
            elif isinstance(event, node_client.WithdrawalRefunded):
                events.append(
                    WithdrawalRefunded(withdrawal_id_hex(event.withdrawal_id), at.tx_hash.lower())
                )
        return events

    async def withdrawal_status(self, withdrawal_id: str) -> int:
        """The Bridge's status of a withdrawal: 1 requested, 2 released, 3 refunded (0 unknown)."""
        data = WITHDRAWALS + abi_encode(["uint256"], [int(withdrawal_id, 16)])
        raw = await self._node.eth_call(self._bridge, data)
        fields = abi_decode(WITHDRAWAL_FIELDS, raw)
        return int(fields[3])

    async def commitment(self, height: int) -> str | None:
        """The state root the Bridge holds as committed at `height` (0x-hex), None if none."""
        data = COMMITMENTS + abi_encode(["uint64"], [height])
        root = abi_decode(["bytes32"], await self._node.eth_call(self._bridge, data))[0]
        return None if not any(root) else "0x" + root.hex()

    async def record_commitment(
        self, account: LocalAccount, commitment: Commitment, signatures: Sequence[bytes]
    ) -> str:
        return await self._send(account, record_commitment_calldata(commitment, signatures))

    async def mark_released(
        self, account: LocalAccount, withdrawal_id: str, btc_txid: str, signatures: Sequence[bytes]
    ) -> str:
        data = MARK_RELEASED + abi_encode(
            ["uint256", "bytes32", "bytes[]"],
            [int(withdrawal_id, 16), bytes.fromhex(btc_txid), list(signatures)],
        )
        return await self._send(account, data)

    async def refund(
        self, account: LocalAccount, withdrawal_id: str, signatures: Sequence[bytes]
    ) -> str:
        data = REFUND + abi_encode(
            ["uint256", "bytes[]"], [int(withdrawal_id, 16), list(signatures)]
        )
        return await self._send(account, data)

    async def _send(self, account: LocalAccount, data: bytes) -> str:
        """Send a Bridge call from `account` and wait for it; `BridgeCallFailed` if it reverts."""
        gas_price = int(await self._node.call("eth_gasPrice"), 16)
        tx = {
            "type": 2,
            "chainId": self._chain_id,
            "nonce": await self._node.nonce(account.address),
            "to": self._bridge,
            "value": 0,
            "data": data,
            "gas": BRIDGE_TX_GAS,
            "maxFeePerGas": gas_price * 2,
            "maxPriorityFeePerGas": 0,
        }
        signed = Account.sign_transaction(tx, account.key)
        receipt = await self._node.send_and_wait(signed.raw_transaction, RECEIPT_TIMEOUT_S)
        if not receipt.succeeded:
            raise BridgeCallFailed(receipt.tx_hash, "reverted")
        return receipt.tx_hash
