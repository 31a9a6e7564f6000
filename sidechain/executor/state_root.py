"""The post-state root from a block's committed field changes, split into independent trie tasks.

Storage tries of distinct accounts are independent, and so are the 16 subtries under the account
trie's root branch: a task updates one storage trie, or the part of a trie under one first
nibble of the hashed key (returning the new child reference), and the caller joins the 16
children into one branch node. A caller decides where tasks run (`TaskRunner`): in worker
processes, or in-process in task order. The split is only used where it is sound: the pre-state
root node is a branch and stays one; otherwise the whole update runs as one task.
"""

import functools
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

import rlp
from eth.constants import BLANK_ROOT_HASH, EMPTY_SHA3
from eth.rlp.accounts import Account
from eth_typing import Hash32
from eth_utils import keccak
from trie import HexaryTrie

from sidechain.executor.batch_trie import BatchTrie, Node, Ref, Value
from sidechain.executor.mvstate import BAL, CODE, EXIST, NONCE, SLOT, WIPE, Key, TrieReader

NodeDB = MutableMapping[bytes, bytes]
SPLIT_MIN_KEYS = 256  # below this a trie update is one task: splitting costs more than it saves
ACCOUNT_TRIE = b""  # the tag of account-trie tasks (storage tasks are tagged by address)


@dataclass(frozen=True)
class AccountSpec:
    """What the account trie leaf of `address` becomes: changed fields, new storage root
    (None: unchanged) and whether its storage was wiped. Workers read the rest themselves."""

    address: bytes
    fields: Mapping[int, Any]
    storage_root: Hash32 | None
    wiped: bool


@dataclass(frozen=True)
class TrieTask:
    """Update the trie at `root` with `items`; `nibble` set: only the child under it.

    Storage tasks carry (hashed slot, RLP value or b"" to delete); account-trie tasks carry
    (hashed address, AccountSpec) and build their leaves where they run."""

    tag: bytes
    nibble: int | None
    root: Hash32
    items: tuple[tuple[bytes, Any], ...]


TaskRunner = Callable[[Sequence[TrieTask]], list[Ref | None]]


def run_task(db: NodeDB, reader: TrieReader, task: TrieTask) -> Ref | None:
    """A task's result: the new root hash, or with `nibble` the new child reference (None if
    the root node stops being a branch: the caller then updates the whole trie)."""
    items: Sequence[tuple[bytes, Value]] = task.items
    if task.tag == ACCOUNT_TRIE:
        items = [(key, account_value(reader, spec)) for key, spec in task.items]
    if task.nibble is None:
        return apply_items(db, task.root, items)
    branch = root_branch(db, task.root)
    if branch is not None and all(value for _, value in items):
        below = [(key.hex()[1:], value) for key, value in items]
        return BatchTrie(db).update_child(branch[task.nibble], below)
    new_branch = root_branch(db, apply_items(db, task.root, items))
    return None if new_branch is None else new_branch[task.nibble]  # type: ignore[no-any-return]


def apply_items(db: NodeDB, root: Hash32, items: Iterable[tuple[bytes, Value]]) -> Hash32:
    """The root after setting each (key, value); an empty value deletes the key (a `Merge`
    never deletes)."""
    pairs = list(items)
    if all(value for _, value in pairs):
        return BatchTrie(db).update(root, pairs)
    trie = HexaryTrie(db, root)
    with trie.squash_changes() as batch:
        for key, value in pairs:
            if not isinstance(value, bytes):
                value = value(batch.get(key) or None)
            if value:
                batch[key] = value
            elif key in batch:
                del batch[key]
    return Hash32(trie.root_hash)


def root_branch(db: NodeDB, root: Hash32) -> Node | None:
    if root == BLANK_ROOT_HASH:
        return None
    node = rlp.decode(db[root])
    return node if len(node) == 17 else None  # type: ignore[no-any-return]


def account_value(reader: TrieReader, spec: AccountSpec) -> Value:
    """The account trie value of `spec`: a `Merge` with the old leaf (read by the trie walk,
    not looked up) when the account surely stays in the trie, else the value from the
    pre-state account (b"" = delete)."""
    if _stays(spec):
        return functools.partial(_merged_leaf, spec)
    before = reader.account(spec.address)
    return _merged_leaf(spec, rlp.encode(before) if before is not None else None)


def _stays(spec: AccountSpec) -> bool:
    """Whether the account is in the trie after the block whatever it was before: it exists
    (an account field changed, which only an existing or created account's can), or its
    storage is not empty."""
    exists = spec.fields.get(EXIST)
    if exists is not None:
        return bool(exists)
    return bool(spec.fields.keys() & {BAL, NONCE, CODE}) or spec.storage_root not in (
        None,
        BLANK_ROOT_HASH,
    )


def _merged_leaf(spec: AccountSpec, old: bytes | None) -> bytes:
    """The account leaf (b"" = delete) from its old RLP, as py-evm's `make_state_root` would
    store it."""
    before = rlp.decode(old, sedes=Account) if old else None
    storage_root = spec.storage_root
    if storage_root is None:
        storage_root = BLANK_ROOT_HASH if spec.wiped or before is None else before.storage_root
    if not spec.fields.get(EXIST, before is not None) and storage_root == BLANK_ROOT_HASH:
        return b""
    fields = spec.fields
    return rlp.encode(  # type: ignore[no-any-return]
        Account(
            nonce=fields.get(NONCE, before.nonce if before else 0),
            balance=fields.get(BAL, before.balance if before else 0),
            storage_root=storage_root,
            code_hash=fields.get(CODE, before.code_hash if before else EMPTY_SHA3),
        )
    )


class StateRootBuilder:
    """Turns the committed changes of a block into trie tasks and joins their results."""

    def __init__(self, db: NodeDB, reader: TrieReader, run_tasks: TaskRunner) -> None:
        self.db = db
        self.reader = reader
        self.run_tasks = run_tasks

    def root(self, changes: Mapping[Key, Any]) -> Hash32:
        slots: dict[bytes, dict[int, int]] = {}
        wiped: set[bytes] = set()
        fields: dict[bytes, dict[int, Any]] = {}
        for key, value in changes.items():
            account_fields = fields.setdefault(key[1], {})
            if key[0] == SLOT:
                slots.setdefault(key[1], {})[key[2]] = value
            elif key[0] == WIPE:
                if value:
                    wiped.add(key[1])
            else:
                account_fields[key[0]] = value
        storage_roots = self._storage_roots(slots, wiped)
        specs = tuple(
            (keccak(address), AccountSpec(address, f, storage_roots.get(address), address in wiped))
            for address, f in fields.items()
        )
        return self._update(ACCOUNT_TRIE, self.reader.root, specs)

    def _storage_roots(
        self, slots: dict[bytes, dict[int, int]], wiped: set[bytes]
    ) -> dict[bytes, Hash32]:
        plans = {}
        for address in slots.keys() | wiped:
            before = self.reader.account(address)
            pre_root = (
                BLANK_ROOT_HASH
                if address in wiped or before is None
                else Hash32(before.storage_root)
            )
            items = tuple(
                (keccak(slot.to_bytes(32, "big")), rlp.encode(value) if value else b"")
                for slot, value in slots.get(address, {}).items()
            )
            plans[address] = (pre_root, items, self._tasks(address, pre_root, items))
        tasks = [task for _, _, address_tasks in plans.values() for task in address_tasks]
        refs = iter(self.run_tasks(tasks))
        return {
            address: self._join(pre_root, items, tasks, [next(refs) for _ in tasks])
            for address, (pre_root, items, tasks) in plans.items()
        }

    def _update(self, tag: bytes, pre_root: Hash32, items: tuple[tuple[bytes, Any], ...]) -> Hash32:
        tasks = self._tasks(tag, pre_root, items)
        return self._join(pre_root, items, tasks, self.run_tasks(tasks))

    def _tasks(
        self, tag: bytes, pre_root: Hash32, items: tuple[tuple[bytes, Any], ...]
    ) -> list[TrieTask]:
        if len(items) < SPLIT_MIN_KEYS or root_branch(self.db, pre_root) is None:
            return [TrieTask(tag, None, pre_root, items)]
        groups: dict[int, list[tuple[bytes, Any]]] = {}
        for key, value in items:
            groups.setdefault(key[0] >> 4, []).append((key, value))
        return [TrieTask(tag, n, pre_root, tuple(group)) for n, group in sorted(groups.items())]

    def _join(
        self,
        pre_root: Hash32,
        items: tuple[tuple[bytes, Any], ...],
        tasks: Sequence[TrieTask],
        refs: Sequence[Ref | None],
    ) -> Hash32:
        """The new root from the tasks' results: a whole-trie task's root, or one branch of the
        pre-state root's children with the tasks' new ones. If that would not be a branch of
        two children or more, the whole update runs here instead."""
        if tasks[0].nibble is None:
            return refs[0]  # type: ignore[return-value]
        branch = root_branch(self.db, pre_root)
        if branch is not None and None not in refs:
            joined = list(branch)
            for task, ref in zip(tasks, refs, strict=True):
                joined[task.nibble] = ref  # type: ignore[index]
            if sum(1 for child in joined[:16] if child != b"") >= 2:
                encoded = rlp.encode(joined)
                root = Hash32(keccak(encoded))
                self.db[root] = encoded
                return root
        whole = TrieTask(tasks[0].tag, None, pre_root, items)
        return run_task(self.db, self.reader, whole)  # type: ignore[return-value]
