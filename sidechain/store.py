"""The node's embedded key-value store (LMDB): state-trie nodes and chain data, committed per block.

Two named databases live in one LMDB environment: `state` (trie nodes and contract code, keyed by
their hash, as py-evm writes them) and `chain` (headers, bodies, receipts, indexes; see
`sidechain.chaindata`). `Store.commit` writes both in one LMDB write transaction, so a block is
on disk entirely or not at all, whatever kills the process. Readers take a `Snapshot`: one LMDB
read transaction, a consistent view that many threads or processes can hold at once.

State nodes are content-addressed and never deleted, so any reader opened after a block's commit
can read that block's state by its root: worker processes of a parallel executor may each open
`Store(path)` and read one pre-state without copying it.
"""

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Self

import lmdb
from eth.db.backends.base import BaseDB

from sidechain.errors import StoreError

DEFAULT_MAP_SIZE = 1 << 36  # 64 GiB of address space; the file grows as data is written
_STATE = b"state"
_CHAIN = b"chain"


class Snapshot:
    """A consistent read-only view of the store (one LMDB read transaction)."""

    def __init__(self, env: lmdb.Environment, state_db: object, chain_db: object) -> None:
        self._txn = env.begin(buffers=False)
        self._state_db = state_db
        self._chain_db = chain_db

    def state_get(self, key: bytes) -> bytes | None:
        return self._txn.get(key, db=self._state_db)

    def chain_get(self, key: bytes) -> bytes | None:
        return self._txn.get(key, db=self._chain_db)

    def state_db(self) -> "SnapshotStateDB":
        """The state part of this snapshot as a py-evm database (reads only)."""
        return SnapshotStateDB(self)

    def close(self) -> None:
        self._txn.abort()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class SnapshotStateDB(BaseDB):
    """py-evm `DatabaseAPI` over a snapshot's state trie nodes; writing to it is a bug."""

    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot

    def __getitem__(self, key: bytes) -> bytes:
        value = self._snapshot.state_get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: bytes) -> bool:  # type: ignore[override]
        return self._snapshot.state_get(key) is not None

    def _exists(self, key: bytes) -> bool:
        return key in self

    def __setitem__(self, key: bytes, value: bytes) -> None:
        raise StoreError("a state snapshot is read-only: executors return their writes")

    def __delitem__(self, key: bytes) -> None:
        raise StoreError("a state snapshot is read-only: executors return their writes")


class Store:
    """An LMDB environment in `path` with the `state` and `chain` databases."""

    def __init__(self, path: Path, map_size: int = DEFAULT_MAP_SIZE) -> None:
        path.mkdir(parents=True, exist_ok=True)
        try:
            self._env = lmdb.open(str(path), map_size=map_size, max_dbs=4, max_readers=512)
        except lmdb.Error as error:
            raise StoreError(f"cannot open the store in {path}: {error}") from error
        self.path = path
        self._state_db = self._env.open_db(_STATE)
        self._chain_db = self._env.open_db(_CHAIN)

    def snapshot(self) -> Snapshot:
        """A consistent read view; close it (or use `with`) when done."""
        return Snapshot(self._env, self._state_db, self._chain_db)

    @contextmanager
    def reading(self) -> Iterator[Snapshot]:
        snapshot = self.snapshot()
        try:
            yield snapshot
        finally:
            snapshot.close()

    def chain_get(self, key: bytes) -> bytes | None:
        with self._env.begin(db=self._chain_db, buffers=False) as txn:
            return txn.get(key)

    def chain_items(self, prefix: bytes) -> list[tuple[bytes, bytes]]:
        """All chain entries whose key starts with `prefix`, in key order."""
        items = []
        with self._env.begin(db=self._chain_db, buffers=False) as txn:
            cursor = txn.cursor()
            if cursor.set_range(prefix):
                for key, value in cursor:
                    if not key.startswith(prefix):
                        break
                    items.append((key, value))
        return items

    def commit(
        self,
        state_writes: Mapping[bytes, bytes],
        chain_writes: Mapping[bytes, bytes],
        chain_deletes: Iterable[bytes] = (),
    ) -> None:
        """Write state nodes and chain data in one durable transaction (all or nothing)."""
        with self._env.begin(write=True) as txn:
            state_cursor = txn.cursor(db=self._state_db)
            state_cursor.putmulti(sorted(state_writes.items()))
            chain_cursor = txn.cursor(db=self._chain_db)
            chain_cursor.putmulti(sorted(chain_writes.items()))
            for key in chain_deletes:
                txn.delete(key, db=self._chain_db)

    def close(self) -> None:
        """Idempotent: closing a closed store does nothing."""
        self._env.close()


class WriteOverlay(BaseDB):
    """Pending writes over a read-only database: what an executor produces for one block."""

    def __init__(self, base: BaseDB) -> None:
        self._base = base
        self.writes: dict[bytes, bytes] = {}

    def __getitem__(self, key: bytes) -> bytes:
        if key in self.writes:
            return self.writes[key]
        return self._base[key]

    def _exists(self, key: bytes) -> bool:
        return key in self.writes or self._base.exists(key)

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.writes[key] = value

    def __delitem__(self, key: bytes) -> None:
        """Trie nodes are content-addressed and shared: a delete only drops a pending write."""
        self.writes.pop(key, None)
