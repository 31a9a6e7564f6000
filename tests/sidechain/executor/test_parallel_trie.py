"""The parallel executor's tries: batch updates and the split-and-join root equal py-trie's."""

from collections.abc import Sequence

from eth.constants import BLANK_ROOT_HASH
from eth.db.account import AccountDB
from eth.db.atomic import AtomicDB
from eth_typing import Address
from eth_utils import keccak
from hypothesis import given, settings
from hypothesis import strategies as st
from trie import HexaryTrie

from sidechain.executor.batch_trie import BatchTrie, Ref
from sidechain.executor.mvstate import BAL, EXIST, NONCE, SLOT, TrieReader
from sidechain.executor.state_root import StateRootBuilder, TrieTask, run_task
from sidechain.store import WriteOverlay

_values = st.binary(min_size=1, max_size=40)


def _key(seed: int) -> bytes:
    return keccak(seed.to_bytes(8, "big"))


def _trie(items: dict[bytes, bytes]) -> tuple[AtomicDB, HexaryTrie]:
    db = AtomicDB()
    trie = HexaryTrie(db)
    for key, value in items.items():
        trie[key] = value
    return db, trie


@settings(max_examples=25, deadline=None)
@given(
    st.dictionaries(st.integers(0, 400), _values, max_size=60),
    st.dictionaries(st.integers(0, 800), _values, min_size=1, max_size=60),
)
def test_batch_update_gives_py_trie_root(pre: dict[int, bytes], update: dict[int, bytes]) -> None:
    db, trie = _trie({_key(k): v for k, v in pre.items()})
    pre_root = trie.root_hash
    for k, v in update.items():
        trie[_key(k)] = v
    got = BatchTrie(db).update(pre_root, [(_key(k), v) for k, v in update.items()])
    assert got == trie.root_hash
    assert HexaryTrie(db, got)[_key(next(iter(update)))] == update[next(iter(update))]


def test_batch_update_of_an_empty_trie_with_one_tiny_leaf() -> None:
    _, trie = _trie({_key(1): b"\x01"})
    db = AtomicDB()
    root = BatchTrie(db).update(BLANK_ROOT_HASH, [(_key(1), b"\x01")])
    assert root == trie.root_hash
    assert HexaryTrie(db, root)[_key(1)] == b"\x01"


def _address(seed: int) -> Address:
    return Address(keccak(b"account" + seed.to_bytes(8, "big"))[:20])


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 2**32), st.booleans())
def test_split_state_root_equals_py_evm(seed: int, deletes: bool) -> None:
    """Changes to 600 accounts and 400 slots of one contract (both tries split by first nibble,
    storage deletions included) give py-evm's `AccountDB` root."""
    db = AtomicDB()
    accounts = AccountDB(db)
    contract = _address(seed)
    for i in range(400):
        accounts.set_balance(_address(seed + 1 + i), 10 + i)
        accounts.set_storage(contract, i, 1 + i)
    pre_root = accounts.make_state_root()
    accounts.persist()
    changes: dict[tuple[object, ...], object] = {}
    for i in range(300):
        accounts.set_balance(_address(seed + 1 + i), 7)
        changes[(BAL, _address(seed + 1 + i))] = 7
        accounts.set_nonce(_address(seed + 10_000 + i), 1)
        changes[(NONCE, _address(seed + 10_000 + i))] = 1
        changes[(EXIST, _address(seed + 10_000 + i))] = True
        value = 0 if deletes and i % 4 == 0 else 5 + i
        accounts.set_storage(contract, i, value)
        changes[(SLOT, contract, i)] = value
    reader = TrieReader(db, pre_root)
    overlay = WriteOverlay(db)
    tasks_seen: list[TrieTask] = []

    def run_here(tasks: Sequence[TrieTask]) -> list[Ref | None]:
        tasks_seen.extend(tasks)
        return [run_task(overlay, reader, task) for task in tasks]

    got = StateRootBuilder(overlay, reader, run_here).root(changes)
    assert got == accounts.make_state_root()
    assert sum(task.nibble is not None for task in tasks_seen) == 32  # storage 16 + accounts 16
