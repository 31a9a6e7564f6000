"""Reads of the state at a block: accounts, storage, eth_call, gas estimation, fee suggestions.

Each query opens its own store snapshot (a consistent view) and a throw-away py-evm state on
it; nothing it does is ever written back.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from eth.abc import BlockHeaderAPI, ComputationAPI, StateAPI
from eth.constants import CREATE_CONTRACT_ADDRESS, ZERO_ADDRESS
from eth.exceptions import Revert
from eth.vm.forks.london.headers import calculate_expected_base_fee_per_gas
from eth.vm.spoof import SpoofTransaction
from eth_abi import decode as abi_decode
from eth_typing import Address, Hash32
from eth_utils import ValidationError

from sidechain.chaindata import ChainData
from sidechain.errors import CallError, ExecutionReverted, InsufficientFunds
from sidechain.executor.abc import PreState
from sidechain.executor.header import next_header
from sidechain.executor.sequential import build_state
from sidechain.genesis import Genesis
from sidechain.store import Snapshot, Store
from sidechain.views import CallRequest
from sidechain.vm import SluiceVM

SUGGESTED_TIP = 10**8  # wei per gas: 0.01 sat; blocks are not full, any tip is included
_ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
_TX_GAS = 21_000


@dataclass(frozen=True)
class AccountView:
    """What the mempool needs to know about accounts, at the head, plus the next block's fees."""

    state: StateAPI
    base_fee: int
    gas_limit: int


class StateQueries:
    """Read-only questions about the state after a given block."""

    def __init__(self, store: Store, chain: ChainData, genesis: Genesis) -> None:
        self._store = store
        self._chain = chain
        self._chain_id = genesis.chain_id
        self._pool: tuple[Hash32, Snapshot, AccountView] | None = None

    @contextmanager
    def _state(
        self, header: BlockHeaderAPI, env: BlockHeaderAPI | None = None
    ) -> Iterator[StateAPI]:
        """The state after `header`; with `env` (the next block's environment), ready to run
        calls, BLOCKHASH included; without, for account reads only."""
        with self._store.reading() as snapshot:
            ancestors = self._chain.ancestor_hashes(header) if env is not None else ()
            pre = PreState(snapshot.state_db(), header.state_root, ancestors)
            state, _ = build_state(pre, env or header, self._chain_id)
            yield state

    def balance(self, header: BlockHeaderAPI, address: Address) -> int:
        with self._state(header) as state:
            return state.get_balance(address)

    def nonce(self, header: BlockHeaderAPI, address: Address) -> int:
        with self._state(header) as state:
            return state.get_nonce(address)

    def code(self, header: BlockHeaderAPI, address: Address) -> bytes:
        with self._state(header) as state:
            return state.get_code(address)

    def storage(self, header: BlockHeaderAPI, address: Address, slot: int) -> int:
        with self._state(header) as state:
            return state.get_storage(address, slot)

    def pool_view(self) -> AccountView:
        """Accounts at the head and the next block's base fee (for mempool admission).

        Kept (with its store snapshot) until the head moves: admitting a transaction then
        costs no state setup, and reads of the same accounts hit py-evm's caches.
        """
        head = self._chain.head().header
        if self._pool is None or self._pool[0] != head.hash:
            self.close()
            snapshot = self._store.snapshot()
            state, _ = build_state(PreState(snapshot.state_db(), head.state_root, ()), head,
                                   self._chain_id)  # fmt: skip
            view = AccountView(state, calculate_expected_base_fee_per_gas(head), head.gas_limit)
            self._pool = (head.hash, snapshot, view)
        return self._pool[2]

    def close(self) -> None:
        """Release the cached head snapshot."""
        if self._pool is not None:
            self._pool[1].close()
            self._pool = None

    def next_base_fee(self, head: BlockHeaderAPI) -> int:
        return calculate_expected_base_fee_per_gas(head)

    def suggested_tip(self) -> int:
        return SUGGESTED_TIP

    # calls

    def call(self, header: BlockHeaderAPI, request: CallRequest) -> bytes:
        env = self._call_env(header, request)
        with self._state(header, env) as state:
            computation = self._run(state, request, request.gas or header.gas_limit)
        _raise_on_error(computation)
        return computation.output

    def estimate_gas(self, header: BlockHeaderAPI, request: CallRequest) -> int:
        """Binary search for the least gas limit that succeeds, as geth does.

        The search's top is the gas the sender can pay for at the call's price (geth's
        allowance); a call that fails there fails with its own error (funds, revert).
        """
        env = self._call_env(header, request)
        with self._state(header, env) as state:
            cap = self._gas_cap(state, request, request.gas or header.gas_limit)
            snapshot = state.snapshot()
            try:
                first = self._run(state, request, cap)
                _raise_on_error(first)
                used = SluiceVM.finalize_gas_used(self._spoof(state, request, cap), first)
            finally:
                state.revert(snapshot)
            low, high = max(used, _TX_GAS) - 1, cap
            guess = min(cap, used * 64 // 63 + 5000)
            if self._succeeds(state, request, guess):
                high = guess
            while low + 1 < high:
                middle = (low + high) // 2
                if self._succeeds(state, request, middle):
                    high = middle
                else:
                    low = middle
        return high

    def _gas_cap(self, state: StateAPI, request: CallRequest, cap: int) -> int:
        """`cap`, lowered to what the sender's balance pays for after the value (geth)."""
        price = _price(request)
        if price == 0:
            return cap
        sender = request.sender or ZERO_ADDRESS
        balance = state.get_balance(sender)
        if request.value > balance:
            raise InsufficientFunds(sender, balance, request.value)
        return max(min(cap, (balance - request.value) // price), _TX_GAS)

    def _call_env(self, header: BlockHeaderAPI, request: CallRequest) -> BlockHeaderAPI:
        """The next block's environment; with no fee given, a zero base fee (like geth)."""
        env = next_header(header, header.timestamp + 1)
        if _price(request) == 0:
            return env.copy(base_fee_per_gas=0)
        return env

    def _succeeds(self, state: StateAPI, request: CallRequest, gas: int) -> bool:
        """Whether the call runs without error with a gas limit of `gas` (state untouched)."""
        snapshot = state.snapshot()
        try:
            return not self._run(state, request, gas).is_error
        except CallError:  # e.g. a limit below the intrinsic gas
            return False
        finally:
            state.revert(snapshot)

    def _spoof(self, state: StateAPI, request: CallRequest, gas: int) -> SpoofTransaction:
        sender = request.sender or ZERO_ADDRESS
        price = _price(request)
        unsigned = SluiceVM.create_unsigned_transaction(
            nonce=state.get_nonce(sender),
            gas_price=price,
            gas=gas,
            to=request.to or CREATE_CONTRACT_ADDRESS,
            value=request.value,
            data=request.data,
        )
        tip = request.max_priority_fee_per_gas
        return SpoofTransaction(
            unsigned,
            sender=sender,
            chain_id=self._chain_id,
            type_id=None,
            max_fee_per_gas=price,
            max_priority_fee_per_gas=price if tip is None else tip,
            access_list=(),
            r=1,  # a call has no signature; these pass py-evm's signature-range checks
            s=1,
            v=27,
            y_parity=0,
        )

    def _run(self, state: StateAPI, request: CallRequest, gas: int) -> ComputationAPI:
        """Apply the call; raises `InsufficientFunds` (worded as geth) or `CallError`."""
        sender = request.sender or ZERO_ADDRESS
        cost = gas * _price(request) + request.value
        balance = state.get_balance(sender)
        if balance < cost:
            raise InsufficientFunds(sender, balance, cost)
        try:
            return state.apply_transaction(self._spoof(state, request, gas))
        except ValidationError as error:
            raise CallError(str(error)) from error


def _price(request: CallRequest) -> int:
    return request.max_fee_per_gas or request.gas_price or 0


def _raise_on_error(computation: ComputationAPI) -> None:
    if not computation.is_error:
        return
    if isinstance(computation.error, Revert):
        data = computation.output
        raise ExecutionReverted(data, revert_reason(data))
    raise CallError(f"execution failed: {type(computation.error).__name__} {computation.error}")


def revert_reason(data: bytes) -> str | None:
    """The message of an `Error(string)` revert, or None for other revert data."""
    if data[:4] != _ERROR_SELECTOR:
        return None
    try:
        (reason,) = abi_decode(["string"], data[4:])
    except Exception:  # an undecodable payload simply has no reason
        return None
    return str(reason)
