"""The sidechain's fork: Prague rules, with fees collected for the fee vault instead of burned.

`SluiceVM` is py-evm's `PragueVM` with three sidechain rules, chosen by class attributes:
- a transaction pays no one while it runs: its whole fee (base fee and tip) is credited to
  `FEE_VAULT_ADDRESS` once, at block end (no hot coinbase account, no BTC burned);
- the transaction builder and receipt builder know the deposit transaction type (0x7E);
- there is no beacon-chain deposit contract, so the EIP-6110 deposit request list is empty.
"""

from collections.abc import Iterable

from eth.abc import (
    BlockAPI,
    ComputationAPI,
    DecodedZeroOrOneLayerRLP,
    ReceiptAPI,
    SignedTransactionAPI,
)
from eth.vm.forks.prague import PragueVM
from eth.vm.forks.prague.blocks import PragueBlock, PragueBlockHeader
from eth.vm.forks.prague.constants import DEPOSIT_REQUEST_TYPE
from eth.vm.forks.prague.state import PragueState, PragueTransactionExecutor
from eth.vm.forks.prague.transactions import PragueTransactionBuilder
from eth.vm.forks.shanghai.withdrawals import Withdrawal
from rlp.sedes import CountableList

from sidechain.predeploys import FEE_VAULT_ADDRESS
from sidechain.system_tx import (
    DEPOSIT_TX_TYPE,
    BlockTransaction,
    DepositTransaction,
    SluiceReceiptBuilder,
)


class SluiceTransactionExecutor(PragueTransactionExecutor):
    """Prague's pipeline, except that finalization refunds the sender and pays no one."""

    def finalize_computation(
        self, transaction: SignedTransactionAPI, computation: ComputationAPI
    ) -> ComputationAPI:
        gas_price = self.vm_state.get_transaction_context(transaction).gas_price
        gas_remaining = computation.get_gas_remaining()
        gas_used = transaction.gas - gas_remaining
        gas_refund = self.calculate_gas_refund(computation, gas_used)
        computation.data_floor_gas = self.calc_data_floor_gas(transaction, gas_used, gas_refund)
        refund = (gas_refund + gas_remaining - computation.data_floor_gas) * gas_price
        if refund:
            self.vm_state.delta_balance(computation.msg.sender, refund)
        for account in computation.get_accounts_for_deletion():
            self.vm_state.delete_account(account)
        return computation


class SluiceState(PragueState):
    transaction_executor_class = SluiceTransactionExecutor


def transaction_fee(tx: BlockTransaction, gas_used: int, base_fee: int) -> int:
    """Wei a transaction pays the fee vault: all its gas at the effective gas price."""
    if isinstance(tx, DepositTransaction):
        return 0
    return gas_used * effective_gas_price(tx, base_fee)


def effective_gas_price(tx: BlockTransaction, base_fee: int) -> int:
    if isinstance(tx, DepositTransaction):
        return 0
    return min(tx.max_fee_per_gas, tx.max_priority_fee_per_gas + base_fee)


def block_fees(
    txs: Iterable[BlockTransaction], receipts: Iterable[ReceiptAPI], base_fee: int
) -> int:
    """The fees of a whole block, from each receipt's cumulative gas."""
    total = 0
    previous = 0
    for tx, receipt in zip(txs, receipts, strict=True):
        total += transaction_fee(tx, receipt.gas_used - previous, base_fee)
        previous = receipt.gas_used
    return total


class SluiceTransactionBuilder(PragueTransactionBuilder):
    receipt_builder = SluiceReceiptBuilder

    @classmethod
    def decode(cls, encoded: bytes) -> SignedTransactionAPI:
        if encoded and encoded[0] == DEPOSIT_TX_TYPE:
            return DepositTransaction.decode(encoded)  # type: ignore[return-value]
        return super().decode(encoded)

    @classmethod
    def deserialize(cls, encoded: DecodedZeroOrOneLayerRLP) -> SignedTransactionAPI:
        """A transaction inside a block's RLP (typed ones as bytes): deposits included."""
        if isinstance(encoded, bytes) and encoded[:1] == bytes([DEPOSIT_TX_TYPE]):
            return DepositTransaction.decode(encoded)  # type: ignore[return-value]
        return super().deserialize(encoded)

    @classmethod
    def serialize(cls, obj: SignedTransactionAPI) -> DecodedZeroOrOneLayerRLP:
        if isinstance(obj, DepositTransaction):
            return obj.encode()
        return super().serialize(obj)


class SluiceBlock(PragueBlock):
    transaction_builder = SluiceTransactionBuilder
    receipt_builder = SluiceReceiptBuilder
    fields = [  # noqa: RUF012  (py-evm's form; the block's RLP knows deposit transactions)
        ("header", PragueBlockHeader),
        ("transactions", CountableList(SluiceTransactionBuilder)),
        ("uncles", CountableList(None, max_length=0)),
        ("withdrawals", CountableList(Withdrawal)),
    ]


class SluiceVM(PragueVM):
    fork = "sluice-prague"
    block_class = SluiceBlock
    _state_class = SluiceState

    def _assign_block_rewards(self, block: BlockAPI) -> None:
        """No block reward; the block's fees go to the fee vault (used by py-evm's own Chain)."""
        fees = block_fees(
            block.transactions, block.get_receipts(self.chaindb), block.header.base_fee_per_gas
        )
        if fees:
            self.state.delta_balance(FEE_VAULT_ADDRESS, fees)

    def process_deposit_request_data(self, block: BlockAPI) -> None:
        """No beacon-chain deposit contract on the sidechain: the deposit request list is empty."""
        block.block_requests.append(DEPOSIT_REQUEST_TYPE)
