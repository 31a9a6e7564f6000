"""Field-level read/write recording for py-evm: the parallel executor's account database and views.

A state key is a small tuple (cheap to hash and to pickle between processes):
    (BAL, addr) balance     (NONCE, addr) nonce     (CODE, addr) code hash
    (EXIST, addr) the account is in the trie        (SLOT, addr, slot) a storage value
    (WIPE, addr) the account's storage was wiped in this block

`RecordingAccountDB` implements py-evm's `AccountDatabaseAPI` with no trie: a transaction reads
through its own journaled layer into a `View` (newer writes of earlier transactions over the
pre-state trie) and every read that leaves the transaction is recorded, so Block-STM can check
later whether the transaction saw what block order says it should have.
"""

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import rlp
from eth.abc import AccountDatabaseAPI, DatabaseAPI, MetaWitnessAPI
from eth.constants import BLANK_ROOT_HASH, EMPTY_SHA3
from eth.db.journal import get_next_checkpoint
from eth.db.witness import MetaWitness
from eth.rlp.accounts import Account
from eth_typing import Address, Hash32
from eth_utils import keccak
from trie import HexaryTrie

BAL, NONCE, CODE, EXIST, SLOT, WIPE = 0, 1, 2, 3, 4, 5
_DELTA = 6  # transaction-local: a pending blind balance credit
_WARM_ACCOUNT, _WARM_SLOT = 7, 8  # transaction-local: EIP-2929 warm sets, journaled, never shipped
_MISSING = object()

Key = tuple[Any, ...]
BalanceDeltas = dict[bytes, tuple[int, int | None]]  # addr -> (credit, pre-state balance or None)


_KIND_NAMES = ("balance", "nonce", "code", "exists", "slot", "wipe")


def describe(key: Key) -> str:
    """A state key for people: "slot 0x51…0a 0x3f…", "balance 0x51…04"."""
    text = f"{_KIND_NAMES[key[0]]} 0x{bytes(key[1]).hex()}"
    return text + (f" {key[2]:#x}" if key[0] == SLOT else "")


class TrieReader:
    """Field reads from the pre-state trie at one root; decoded accounts cached for the block."""

    def __init__(self, db: DatabaseAPI, root: Hash32) -> None:
        self.db = db
        self.root = root
        self._trie = HexaryTrie(db, root)
        self._accounts: dict[bytes, Account | None] = {}
        self._storage: dict[bytes, HexaryTrie] = {}

    def account(self, address: bytes) -> Account | None:
        if address not in self._accounts:
            raw = self._trie.get(keccak(address))
            self._accounts[address] = rlp.decode(raw, sedes=Account) if raw else None
        return self._accounts[address]

    def get(self, key: Key) -> Any:
        kind, address = key[0], key[1]
        account = self.account(address)
        if kind == WIPE:
            return False
        if kind == SLOT:
            return self._slot(address, account, key[2])
        if account is None:
            return (0, 0, EMPTY_SHA3, False)[kind]
        return (account.balance, account.nonce, account.code_hash, True)[kind]

    def _slot(self, address: bytes, account: Account | None, slot: int) -> int:
        if account is None or account.storage_root == BLANK_ROOT_HASH:
            return 0
        if address not in self._storage:
            self._storage[address] = HexaryTrie(self.db, account.storage_root)
        raw = self._storage[address].get(keccak(slot.to_bytes(32, "big")))
        return rlp.decode(raw, sedes=rlp.sedes.big_endian_int) if raw else 0  # type: ignore[no-any-return]

    def code(self, code_hash: bytes) -> bytes:
        return self.db[code_hash]


class TxWrites(NamedTuple):
    """What one transaction changed: absolute values, blind balance credits, new contract code.
    A named tuple, not a dataclass: workers send one per transaction, and the coordinator
    unpickles tuples about 8 times faster (measured on 2,000 transfers)."""

    writes: dict[Key, Any]
    deltas: BalanceDeltas
    codes: dict[bytes, bytes]


class TxAccess(NamedTuple):
    """One transaction's recorded reads and its writes (a named tuple, as `TxWrites`).

    `pre_reads` were served by the pre-state, so they stay valid while no committed transaction
    writes the key; `reads` were served by another transaction's write and are checked by value.
    A worker tracking counters (`counter_tracking`) adds the first read of each counter it may
    shift (`counter_reads`), the comparisons the transaction made on counter values
    (`counter_checks`, `counters.Check`) and the counters whose write moves with the shift
    (`counter_writes`); see `counters.rebased`.
    """

    pre_reads: tuple[Key, ...]
    reads: dict[Key, Any]
    changes: TxWrites
    counter_reads: dict[Key, int] = {}  # noqa: RUF012 (a shared default, never mutated)
    counter_checks: tuple[tuple[Any, ...], ...] = ()
    counter_writes: frozenset[Key] = frozenset()


def forget_slots(values: dict[Key, Any], address: bytes) -> None:
    """Drop `address`'s storage slots from `values` (its storage was wiped)."""
    for stale in [key for key in values if key[0] == SLOT and key[1] == address]:
        del values[stale]


class View:
    """The state as one process sees it: the newest known writes of earlier transactions over
    the pre-state. The coordinator's committed view answers with the same lookup, so validation
    and execution agree on what a key holds (a slot after a wipe reads 0)."""

    def __init__(self, pre: TrieReader) -> None:
        self.pre = pre
        self.data: dict[Key, Any] = {}
        self.codes: dict[bytes, bytes] = {}

    def get(self, key: Key) -> Any:
        return self.get_source(key)[0]

    def copy(self) -> "View":
        """Another view of the same pre-state with the same writes, changed independently."""
        view = View(self.pre)
        view.data = dict(self.data)
        view.codes = dict(self.codes)
        return view

    def get_source(self, key: Key) -> tuple[Any, bool]:
        """(value, True if it came from the pre-state)."""
        value = self.data.get(key, _MISSING)
        if value is not _MISSING:
            return value, False
        if key[0] == SLOT and self.data.get((WIPE, key[1])):
            return 0, False
        return self.pre.get(key), True

    def code(self, code_hash: bytes) -> bytes:
        code = self.codes.get(code_hash)
        return code if code is not None else self.pre.code(code_hash)

    def set_all(self, values: Mapping[Key, Any]) -> None:
        """Set absolute values, all newer than any storage wipe among them: a wipe first
        forgets the account's slots known so far, then the slots given are set."""
        data = self.data
        for key, value in values.items():
            if key[0] == WIPE and value:
                forget_slots(data, key[1])
        data.update(values)

    def apply(self, changes: TxWrites) -> list[Key]:
        """Apply a transaction's changes; returns the keys whose values changed."""
        self.set_all(changes.writes)
        changed = list(changes.writes)
        for address, (credit, pre_balance) in changes.deltas.items():
            key = (BAL, address)
            current = self.data.get(key, _MISSING)
            if current is _MISSING:
                current = pre_balance if pre_balance is not None else self.get(key)
            self.data[key] = current + credit
            self.data[(EXIST, address)] = True
            changed += [key, (EXIST, address)]
        self.codes.update(changes.codes)
        return changed


class RecordingAccountDB(AccountDatabaseAPI):
    """py-evm's account database for one transaction at a time, recording instead of a trie.

    Balance credits to an account whose balance the transaction has not read stay blind deltas
    (no read recorded), so transfers to one hot account do not conflict.
    """

    def __init__(self, view: View, state_root: Hash32) -> None:
        self.view = view
        self._root = state_root
        self.root_of: Callable[[TxWrites], Hash32] | None = None
        # the next balance read of this address is a CALL's idle check: not recorded, 0
        self.unread_balance: bytes | None = None
        self._reset()

    def _reset(self) -> None:
        self._local: dict[Key, Any] = {}
        self._undo: list[tuple[Key, Any]] = []
        self._reads: dict[Key, Any] = {}
        self._pre_reads: set[Key] = set()
        self._codes: dict[bytes, bytes] = {}
        self._checkpoints: dict[int, int] = {}

    def take(self) -> TxAccess:
        """The transaction's reads and writes; the next transaction starts from nothing."""
        access = self._access()
        self._reset()
        return access

    def _access(self) -> TxAccess:
        return TxAccess(
            tuple(self._pre_reads),
            {k: v for k, v in self._reads.items() if k not in self._pre_reads},
            self.changes(),
        )

    def changes(self) -> TxWrites:
        """What the transaction has written so far."""
        writes: dict[Key, Any] = {}
        deltas: BalanceDeltas = {}
        for key, value in self._local.items():
            kind = key[0]
            if kind == _DELTA:
                if value:
                    base, from_pre = self.view.get_source((BAL, key[1]))
                    deltas[key[1]] = (value, base if from_pre else None)
            elif kind < _DELTA:
                if kind == EXIST and value is True and self._is_pre_existing(key):
                    continue
                writes[key] = value
        return TxWrites(writes, deltas, self._codes)

    def _is_pre_existing(self, key: Key) -> bool:
        """Touching an account that existed when the transaction began is a read of EXIST,
        not a write: it then does not invalidate every later reader of that account's
        existence (a CALL reads it for its gas, then touches the callee)."""
        if key in self._reads:
            return self._reads[key] is True
        exists, from_pre = self.view.get_source(key)
        if exists is True:
            self._reads[key] = True
            if from_pre:
                self._pre_reads.add(key)
            return True
        return False

    def lock_changes(self) -> None:
        """Nothing to lock: each transaction's layer is taken and reset by `take`."""

    # journaled transaction-local layer
    def _set(self, key: Key, value: Any) -> None:
        self._undo.append((key, self._local.get(key, _MISSING)))
        self._local[key] = value

    def _get(self, key: Key) -> Any:
        value = self._local.get(key, _MISSING)
        return self._read(key) if value is _MISSING else value

    def _read(self, key: Key) -> Any:
        """The value at the start of the transaction, recorded."""
        value = self._reads.get(key, _MISSING)
        if value is _MISSING:
            if key[0] == SLOT and self._local.get((WIPE, key[1])):
                return 0
            value, from_pre = self.view.get_source(key)
            self._reads[key] = value
            if from_pre:
                self._pre_reads.add(key)
        return value

    def record(self) -> Any:
        # ids from py-evm's own process-wide counter: CancunState journals transient storage
        # with the same ids, and a private counter would collide with its root checkpoint
        checkpoint = get_next_checkpoint()
        self._checkpoints[checkpoint] = len(self._undo)
        return checkpoint

    def discard(self, checkpoint: Any) -> None:
        position = self._checkpoints.pop(checkpoint)
        while len(self._undo) > position:
            key, old = self._undo.pop()
            if old is _MISSING:
                self._local.pop(key, None)
            else:
                self._local[key] = old
        self._forget_after(checkpoint)

    def commit(self, checkpoint: Any) -> None:
        self._checkpoints.pop(checkpoint, None)
        self._forget_after(checkpoint)

    def _forget_after(self, checkpoint: int) -> None:
        for later in [c for c in self._checkpoints if c > checkpoint]:
            del self._checkpoints[later]

    # the state root is computed from committed changes (`root_of`), never from a trie here
    @property
    def state_root(self) -> Hash32:
        return self._root

    @state_root.setter
    def state_root(self, value: Hash32) -> None:
        """`BaseState.revert` sets the root back; the journal already restores everything."""

    def has_root(self, state_root: bytes) -> bool:
        return state_root == self._root

    def make_state_root(self) -> Hash32:
        """The root with this transaction's changes so far (receipts before Byzantium)."""
        if self.root_of is None:
            raise NotImplementedError("no intermediate state roots on this view")
        return self.root_of(self.changes())

    def persist(self) -> MetaWitnessAPI:
        """Nothing to write: changes leave through `take` (the DAO fork's drain persists)."""
        return MetaWitness(set(), {})

    # storage
    def get_storage(self, address: Address, slot: int, from_journal: bool = True) -> int:
        key = (SLOT, address, slot)
        # not from the journal: the EIP-2200 original value, the one before this transaction
        return self._get(key) if from_journal else self._read(key)  # type: ignore[no-any-return]

    def set_storage(self, address: Address, slot: int, value: int) -> None:
        self._set((SLOT, address, slot), value)

    def delete_storage(self, address: Address) -> None:
        for key in [k for k in self._local if k[0] == SLOT and k[1] == address]:
            self._set(key, 0)
        self._set((WIPE, address), True)

    def is_storage_warm(self, address: Address, slot: int) -> bool:
        return (_WARM_SLOT, address, slot) in self._local

    def mark_storage_warm(self, address: Address, slot: int) -> None:
        if (_WARM_SLOT, address, slot) not in self._local:
            self._set((_WARM_SLOT, address, slot), True)

    # balance, nonce, code
    def get_balance(self, address: Address) -> int:
        if address == self.unread_balance:
            self.unread_balance = None
            return 0
        value = self._local.get((BAL, address), _MISSING)
        if value is not _MISSING:
            return value  # type: ignore[return-value]
        base: int = self._read((BAL, address))
        credit = self._local.get((_DELTA, address), 0)
        if credit:  # read after a blind credit: the credit becomes an ordinary write
            self._set((_DELTA, address), 0)
            self._set((BAL, address), base + credit)
        return base + credit  # type: ignore[no-any-return]

    def set_balance(self, address: Address, balance: int) -> None:
        if self._local.get((_DELTA, address)):
            self._set((_DELTA, address), 0)
        self._set((BAL, address), balance)
        self._touch(address)

    def delta_balance(self, address: Address, delta: int) -> None:
        known = (BAL, address) in self._local or (BAL, address) in self._reads
        if known or delta < 0:
            self.set_balance(address, self.get_balance(address) + delta)
        else:
            self._set((_DELTA, address), self._local.get((_DELTA, address), 0) + delta)
            self._touch(address)

    def get_nonce(self, address: Address) -> int:
        return self._get((NONCE, address))  # type: ignore[no-any-return]

    def set_nonce(self, address: Address, nonce: int) -> None:
        self._set((NONCE, address), nonce)
        self._touch(address)

    def increment_nonce(self, address: Address) -> None:
        self.set_nonce(address, self.get_nonce(address) + 1)

    def get_code_hash(self, address: Address) -> Hash32:
        return self._get((CODE, address))  # type: ignore[no-any-return]

    def get_code(self, address: Address) -> bytes:
        code_hash = self.get_code_hash(address)
        if code_hash == EMPTY_SHA3:
            return b""
        return self._codes.get(code_hash) or self.view.code(code_hash)

    def set_code(self, address: Address, code: bytes) -> None:
        code_hash = keccak(code)
        self._codes[code_hash] = code
        self._set((CODE, address), code_hash)
        self._touch(address)

    def delete_code(self, address: Address) -> None:
        self._set((CODE, address), EMPTY_SHA3)
        self._touch(address)

    # accounts
    def _touch(self, address: Address) -> None:
        # py-evm puts any account it writes in the trie: existence is a blind write
        if self._local.get((EXIST, address)) is not True:
            self._set((EXIST, address), True)

    def account_has_code_or_nonce(self, address: Address) -> bool:
        return self.get_nonce(address) != 0 or self.get_code_hash(address) != EMPTY_SHA3

    def delete_account(self, address: Address) -> None:
        self.delete_storage(address)
        for key, value in (
            ((BAL, address), 0),
            ((_DELTA, address), 0),
            ((NONCE, address), 0),
            ((CODE, address), EMPTY_SHA3),
            ((EXIST, address), False),
        ):
            self._set(key, value)

    def account_exists(self, address: Address) -> bool:
        return self._get((EXIST, address))  # type: ignore[no-any-return]

    def touch_account(self, address: Address) -> None:
        self._touch(address)

    def account_is_empty(self, address: Address) -> bool:
        return not self.account_has_code_or_nonce(address) and self.get_balance(address) == 0

    def is_address_warm(self, address: Address) -> bool:
        return (_WARM_ACCOUNT, address) in self._local

    def mark_address_warm(self, address: Address) -> None:
        if (_WARM_ACCOUNT, address) not in self._local:
            self._set((_WARM_ACCOUNT, address), True)
