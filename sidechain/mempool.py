"""The transaction pool: admission checks with standard errors, replacement, limits, ordering.

Admission names the first rule a transaction breaks (the errors in `sidechain.errors`, worded
like geth's). Block selection takes, across senders, the transaction with the highest effective
tip whose nonce is next for its sender, so each sender's transactions stay in nonce order.
"""

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass

from eth._utils.state import code_is_delegation_designation
from eth.abc import SignedTransactionAPI
from eth.vm.forks.cancun.constants import BLOB_TX_TYPE
from eth_keys.constants import SECPK1_N
from eth_typing import Address, Hash32
from eth_utils import ValidationError

from sidechain.errors import (
    AlreadyKnown,
    BadSignature,
    FeeCapBelowBaseFee,
    GasLimitExceeded,
    InsufficientFunds,
    IntrinsicGasTooLow,
    MalformedTransaction,
    NonceTooHigh,
    NonceTooLow,
    Oversized,
    PoolFull,
    ReplacementUnderpriced,
    WrongChainId,
)
from sidechain.executor.pipeline import recover_sender
from sidechain.queries import AccountView
from sidechain.system_tx import DEPOSIT_TX_TYPE
from sidechain.vm import SluiceTransactionBuilder

MAX_TX_SIZE = 128 * 1024


@dataclass(frozen=True)
class PoolLimits:
    """How much the pool holds and what a replacement must bid."""

    per_sender: int = 64
    total: int = 20_000
    max_nonce_gap: int = 64
    price_bump_percent: int = 10


@dataclass(frozen=True)
class PooledTx:
    tx: SignedTransactionAPI
    sender: Address
    arrival: int

    @property
    def nonce(self) -> int:
        return self.tx.nonce

    def tip(self, base_fee: int) -> int:
        """What this transaction pays per gas above the base fee (its ordering key)."""
        return min(self.tx.max_priority_fee_per_gas, self.tx.max_fee_per_gas - base_fee)


class Mempool:
    """Pending user transactions by sender and nonce."""

    def __init__(self, chain_id: int, limits: PoolLimits | None = None) -> None:
        self.chain_id = chain_id
        self.limits = limits or PoolLimits()
        self._by_sender: dict[Address, dict[int, PooledTx]] = {}
        self._by_hash: dict[Hash32, PooledTx] = {}
        self._arrivals = itertools.count()

    def __len__(self) -> int:
        return len(self._by_hash)

    def get(self, tx_hash: Hash32) -> SignedTransactionAPI | None:
        pooled = self._by_hash.get(tx_hash)
        return None if pooled is None else pooled.tx

    def next_nonce(self, sender: Address, state_nonce: int) -> int:
        """The nonce after the sender's contiguous pooled transactions."""
        pooled = self._by_sender.get(sender, {})
        nonce = state_nonce
        while nonce in pooled:
            nonce += 1
        return nonce

    def add(self, raw: bytes, view: AccountView) -> Hash32:
        """Admit a raw signed transaction; raises the `TransactionRejected` leaf it breaks."""
        tx = self._decode(raw)
        sender = self._check_stateless(tx, view)
        if tx.hash in self._by_hash:
            raise AlreadyKnown(tx.hash)
        self._check_state(tx, sender, view)
        replaced = self._check_replacement(tx, sender, view.base_fee)
        if replaced is not None:
            del self._by_hash[replaced.tx.hash]
        pooled = PooledTx(tx, sender, next(self._arrivals))
        self._by_sender.setdefault(sender, {})[tx.nonce] = pooled
        self._by_hash[tx.hash] = pooled
        return tx.hash

    def _decode(self, raw: bytes) -> SignedTransactionAPI:
        if len(raw) > MAX_TX_SIZE:
            raise Oversized(len(raw), MAX_TX_SIZE)
        if not raw:
            raise MalformedTransaction("empty transaction")
        if raw[0] == DEPOSIT_TX_TYPE:
            raise MalformedTransaction("deposit transactions are made by the node, not sent")
        if raw[0] == BLOB_TX_TYPE:
            raise MalformedTransaction("blob transactions are not supported")
        try:
            return SluiceTransactionBuilder.decode(raw)
        except Exception as error:  # py-evm raises many types on bad RLP
            raise MalformedTransaction(str(error) or type(error).__name__) from error

    def _check_stateless(self, tx: SignedTransactionAPI, view: AccountView) -> Address:
        if tx.chain_id != self.chain_id:
            raise WrongChainId(self.chain_id, tx.chain_id)
        if tx.s > SECPK1_N // 2:
            raise BadSignature("signature s is in the upper half of the curve order (EIP-2)")
        sender = recover_sender(tx)
        intrinsic = tx.intrinsic_gas
        if tx.gas < intrinsic:
            raise IntrinsicGasTooLow(tx.gas, intrinsic)
        try:
            tx.validate()
        except ValidationError as error:
            raise MalformedTransaction(str(error)) from error
        if tx.gas > view.gas_limit:
            raise GasLimitExceeded(tx.gas, view.gas_limit)
        if tx.max_fee_per_gas < view.base_fee:
            raise FeeCapBelowBaseFee(tx.max_fee_per_gas, view.base_fee)
        return sender

    def _check_state(self, tx: SignedTransactionAPI, sender: Address, view: AccountView) -> None:
        state_nonce = view.state.get_nonce(sender)
        if tx.nonce < state_nonce:
            raise NonceTooLow(sender, tx.nonce, state_nonce)
        if tx.nonce > state_nonce + self.limits.max_nonce_gap:
            raise NonceTooHigh(sender, tx.nonce, state_nonce + self.limits.max_nonce_gap)
        cost = tx.gas * tx.max_fee_per_gas + tx.value
        balance = view.state.get_balance(sender)
        if balance < cost:
            raise InsufficientFunds(sender, balance, cost)
        code = view.state.get_code(sender)
        if code and not code_is_delegation_designation(code):
            raise BadSignature("sender is a contract, not an externally owned account (EIP-3607)")

    def _check_replacement(
        self, tx: SignedTransactionAPI, sender: Address, base_fee: int
    ) -> PooledTx | None:
        pooled = self._by_sender.get(sender, {})
        existing = pooled.get(tx.nonce)
        if existing is None:
            if len(pooled) >= self.limits.per_sender:
                raise PoolFull("per-sender", self.limits.per_sender)
            if len(self._by_hash) >= self.limits.total:
                raise PoolFull("pool", self.limits.total)
            return None
        bump = 100 + self.limits.price_bump_percent
        min_tip = -(-existing.tx.max_priority_fee_per_gas * bump // 100)
        min_cap = -(-existing.tx.max_fee_per_gas * bump // 100)
        if tx.max_priority_fee_per_gas < min_tip or tx.max_fee_per_gas < min_cap:
            raise ReplacementUnderpriced(
                tx.max_priority_fee_per_gas, tx.max_fee_per_gas, min_tip, min_cap
            )
        return existing

    def select(
        self, base_fee: int, gas_limit: int, nonce_of: Callable[[Address], int]
    ) -> list[SignedTransactionAPI]:
        """Transactions for the next block: best effective tip first, nonces in order per sender,
        fee cap at least `base_fee`, declared gas within `gas_limit`."""
        heap: list[tuple[int, int, Address, int]] = []
        for sender, pooled in self._by_sender.items():
            nonce = nonce_of(sender)
            self._push(heap, pooled.get(nonce), base_fee)
        chosen: list[SignedTransactionAPI] = []
        gas = 0
        while heap:
            _, _, sender, nonce = heapq.heappop(heap)
            entry = self._by_sender[sender][nonce]
            if gas + entry.tx.gas > gas_limit:
                continue
            chosen.append(entry.tx)
            gas += entry.tx.gas
            self._push(heap, self._by_sender[sender].get(nonce + 1), base_fee)
        return chosen

    @staticmethod
    def _push(
        heap: list[tuple[int, int, Address, int]], entry: PooledTx | None, base_fee: int
    ) -> None:
        if entry is not None and entry.tx.max_fee_per_gas >= base_fee:
            heapq.heappush(heap, (-entry.tip(base_fee), entry.arrival, entry.sender, entry.nonce))

    def remove(self, tx_hashes: set[Hash32]) -> None:
        """Drop transactions (mined or found invalid), and any pooled rival with the same nonce
        as a mined one."""
        for tx_hash in tx_hashes:
            pooled = self._by_hash.pop(tx_hash, None)
            if pooled is None:
                continue
            by_nonce = self._by_sender[pooled.sender]
            del by_nonce[pooled.nonce]
            if not by_nonce:
                del self._by_sender[pooled.sender]

    def drop_stale(self, sender: Address, state_nonce: int) -> None:
        """After a block, forget the sender's transactions whose nonce is now used."""
        by_nonce = self._by_sender.get(sender, {})
        self.remove({p.tx.hash for n, p in list(by_nonce.items()) if n < state_nonce})
