"""The per-transaction pipeline every executor shares: one transaction applied to one state.

User transactions go through py-evm's transaction executor for the fork (validate, build the
message, run it, finalize) and get the fork's receipt (a status, or before Byzantium the
intermediate state root); deposit transactions run as a fee-less system call to the Bridge and
credit the native coin when the Bridge accepts a BTC deposit, within the same state snapshot.
The pipeline reads and writes only the given state, so a parallel executor can run it on a
worker's own view and keep the read/write sets it records.
"""

from dataclasses import dataclass

from eth._utils.address import generate_contract_address
from eth._utils.state import code_is_delegation_designation
from eth.abc import ComputationAPI, SignedTransactionAPI, StateAPI, VirtualMachineAPI
from eth.constants import CREATE_CONTRACT_ADDRESS
from eth.vm.forks.cancun.state import get_total_blob_gas
from eth.vm.forks.shanghai.constants import MAX_INITCODE_SIZE
from eth.vm.message import Message
from eth_keys.exceptions import BadSignature as EthKeysBadSignature
from eth_typing import Address
from eth_utils import ValidationError

from sidechain.errors import BadSignature, InvalidTransaction
from sidechain.executor.abc import TxResult
from sidechain.system_tx import ASSET_BTC, WEI_PER_SAT, BlockTransaction, DepositTransaction
from sidechain.vm import SluiceVM

_SUCCESS = b"\x01"
_FAILURE = b""


@dataclass(frozen=True)
class _GasSoFar:
    """The one header field py-evm's `make_receipt` reads: the gas used before the transaction."""

    gas_used: int


def check_transaction(tx: SignedTransactionAPI, chain_id: int, unprotected: bool = False) -> None:
    """Checks that need no state: chain id, signature, field ranges and intrinsic gas.

    `unprotected` accepts legacy transactions signed without a chain id (pre-EIP-155), as
    Ethereum does. Raises `InvalidTransaction`; the mempool runs the same checks to name the
    error it returns.
    """
    if tx.chain_id != chain_id and not (unprotected and tx.chain_id is None):
        raise InvalidTransaction(tx.hash, f"chain id {tx.chain_id}, expected {chain_id}")
    try:
        recover_sender(tx)
        tx.validate()
    except (BadSignature, ValidationError) as error:
        raise InvalidTransaction(tx.hash, str(error)) from error


def max_cost(tx: SignedTransactionAPI) -> int:
    """What the sender must hold for `tx` to be valid: its value plus all its gas at the fee
    cap, blob gas included (EIP-1559, EIP-4844). py-evm checks the gas at the effective price
    only, and lets a blob transaction's value transfer fail inside the EVM instead."""
    fee_cap = tx.max_fee_per_gas if hasattr(tx, "max_fee_per_gas") else tx.gas_price
    blob_gas = get_total_blob_gas(tx)
    blob_cost = blob_gas * tx.max_fee_per_blob_gas if blob_gas else 0  # type: ignore[attr-defined]
    return tx.value + tx.gas * fee_cap + blob_cost


def recover_sender(tx: SignedTransactionAPI) -> Address:
    """The sender; raises `BadSignature` if the signature recovers none.

    A successful recovery is the signature check (py-evm's `check_signature_validity` recovers
    and then verifies the same key again, twice the cost); the sender is cached on `tx`.
    """
    try:
        return Address(tx.sender)
    except (EthKeysBadSignature, ValidationError, ValueError) as error:
        raise BadSignature(str(error) or type(error).__name__) from error


class TransactionPipeline:
    """Applies block transactions to a py-evm state, one at a time, in the caller's order.

    `vm_class` is the fork whose rules build receipts and count gas; the state must be that
    fork's state. `unprotected_txs` accepts legacy transactions without a chain id.
    """

    def __init__(
        self,
        chain_id: int,
        vm_class: type[VirtualMachineAPI] = SluiceVM,
        unprotected_txs: bool = False,
    ) -> None:
        self.chain_id = chain_id
        self.vm_class = vm_class
        self.unprotected_txs = unprotected_txs

    def apply(
        self, state: StateAPI, tx: BlockTransaction, cumulative_gas: int, gas_limit: int
    ) -> TxResult:
        """Apply `tx` after `cumulative_gas` of the block's `gas_limit` is used.

        Raises `InvalidTransaction` (leaving the state as it was) if `tx` cannot be included.
        """
        if cumulative_gas + tx.gas > gas_limit:
            raise InvalidTransaction(
                tx.hash, f"gas {tx.gas} exceeds the block's remaining {gas_limit - cumulative_gas}"
            )
        state.lock_changes()
        if isinstance(tx, DepositTransaction):
            return self._apply_deposit(state, tx, cumulative_gas)
        return self._apply_user(state, tx, cumulative_gas)

    def _apply_user(
        self, state: StateAPI, tx: SignedTransactionAPI, cumulative_gas: int
    ) -> TxResult:
        check_transaction(tx, self.chain_id, self.unprotected_txs)
        sender_code = state.get_code(tx.sender)
        if sender_code and not code_is_delegation_designation(sender_code):
            raise InvalidTransaction(tx.hash, "sender is a contract (EIP-3607)")
        initcode_limited = hasattr(state.computation_class, "consume_initcode_gas_cost")
        if (
            initcode_limited
            and tx.to == CREATE_CONTRACT_ADDRESS
            and len(tx.data) > MAX_INITCODE_SIZE
        ):
            raise InvalidTransaction(
                tx.hash, f"initcode of {len(tx.data)} bytes, above EIP-3860's {MAX_INITCODE_SIZE}"
            )
        balance, cost = state.get_balance(tx.sender), max_cost(tx)
        if balance < cost:
            raise InvalidTransaction(
                tx.hash, f"sender balance {balance} is below the transaction's maximum cost {cost}"
            )
        try:
            computation = state.apply_transaction(tx)
        except ValidationError as error:
            raise InvalidTransaction(tx.hash, str(error)) from error
        gas_used = self.vm_class.finalize_gas_used(tx, computation)
        receipt = self.vm_class.make_receipt(
            _GasSoFar(cumulative_gas),  # type: ignore[arg-type]
            tx,
            computation,
            state,
        )
        price = state.get_transaction_context(tx).gas_price
        creates = tx.to == CREATE_CONTRACT_ADDRESS
        return TxResult(
            tx_hash=tx.hash,
            receipt=receipt,
            gas_used=gas_used,
            effective_gas_price=price,
            fee=gas_used * price,
            contract_address=(
                Address(generate_contract_address(tx.sender, tx.nonce)) if creates else None
            ),
            error=_error_text(computation),
            output=computation.output,
        )

    def _apply_deposit(
        self, state: StateAPI, tx: DepositTransaction, cumulative_gas: int
    ) -> TxResult:
        snapshot = state.snapshot()
        state.mark_address_warm(tx.sender)
        state.mark_address_warm(tx.to)
        message = Message(
            gas=tx.gas,
            to=tx.to,
            sender=tx.sender,
            value=0,
            data=tx.data,
            code=state.get_code(tx.to),
        )
        context = state.get_transaction_context_class()(gas_price=0, origin=tx.sender)
        computation = state.computation_class.apply_message(state, message, context)
        if computation.is_success and tx.asset == ASSET_BTC:
            state.delta_balance(tx.recipient, tx.amount * WEI_PER_SAT)
        if computation.is_success:
            state.commit(snapshot)
        else:
            state.revert(snapshot)
        state.clear_transient_storage()
        gas_used = tx.gas - computation.get_gas_remaining()
        status = _SUCCESS if computation.is_success else _FAILURE
        receipt = tx.make_receipt(status, cumulative_gas + gas_used, computation.get_log_entries())
        return TxResult(
            tx_hash=tx.hash,
            receipt=receipt,
            gas_used=gas_used,
            effective_gas_price=0,
            fee=0,
            contract_address=None,
            error=_error_text(computation),
            output=computation.output,
        )


def _error_text(computation: ComputationAPI) -> str | None:
    if computation.is_success:
        return None
    return type(computation.error).__name__ + (
        f": {computation.error}" if str(computation.error) else ""
    )
