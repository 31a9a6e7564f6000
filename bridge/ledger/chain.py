"""Repositories of the Bitcoin blocks seen (for reorg detection) and of processing cursors."""

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bridge.ledger.audit import AuditLog
from bridge.ledger.errors import BlockDoesNotConnect
from bridge.ledger.models import BitcoinBlock, Cursor


class BitcoinBlockRepository:
    """The best chain as this ledger last saw it: one row per height, each the child of the last.

    A scanner `connect`s blocks in order; when bitcoind's block at a height differs from the
    stored one (or a new block does not connect), it walks back with `at` to the fork point and
    calls `disconnect_above(fork_height)`, then reconnects the new branch.
    """

    def __init__(self, session: Session) -> None:
        self._session = session

    def tip(self) -> BitcoinBlock | None:
        query = select(BitcoinBlock).order_by(BitcoinBlock.height.desc()).limit(1)
        return self._session.scalars(query).first()

    def at(self, height: int) -> BitcoinBlock | None:
        return self._session.get(BitcoinBlock, height)

    def by_hash(self, block_hash: str) -> BitcoinBlock | None:
        query = select(BitcoinBlock).where(BitcoinBlock.hash == block_hash.lower())
        return self._session.scalars(query).one_or_none()

    def connect(self, height: int, block_hash: str, prev_hash: str) -> BitcoinBlock:
        """Append a block on top of the stored tip (any block starts an empty table).

        Raises `BlockDoesNotConnect` when it is not the tip's child: unwind first.
        """
        block_hash, prev_hash = block_hash.lower(), prev_hash.lower()
        tip = self.tip()
        if tip is not None and (height != tip.height + 1 or prev_hash != tip.hash):
            raise BlockDoesNotConnect(height, block_hash, prev_hash, tip.height, tip.hash)
        block = BitcoinBlock(height=height, hash=block_hash, prev_hash=prev_hash)
        self._session.add(block)
        self._session.flush()
        return block

    def disconnect_above(self, height: int) -> Sequence[BitcoinBlock]:
        """Forget the blocks above `height` (a reorg), highest first, and audit the unwind."""
        query = (
            select(BitcoinBlock)
            .where(BitcoinBlock.height > height)
            .order_by(BitcoinBlock.height.desc())
        )
        removed = self._session.scalars(query).all()
        if not removed:
            return removed
        self._session.execute(
            delete(BitcoinBlock)
            .where(BitcoinBlock.height > height)
            .execution_options(synchronize_session="fetch")
        )
        AuditLog(self._session).append(
            "bitcoin_chain",
            str(height),
            "reorg",
            detail={"fork_height": height, "disconnected": [block.hash for block in removed]},
        )
        return removed

    def recent(self, count: int) -> Sequence[BitcoinBlock]:
        """The `count` highest stored blocks, highest first."""
        query = select(BitcoinBlock).order_by(BitcoinBlock.height.desc()).limit(count)
        return self._session.scalars(query).all()


class CursorRepository:
    """Named checkpoints: where each processing loop resumes after a restart."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, name: str) -> Cursor | None:
        return self._session.get(Cursor, name)

    def position(self, name: str, default: int) -> int:
        cursor = self.get(name)
        return default if cursor is None else cursor.position

    def set(self, name: str, position: int, tag: str | None = None) -> Cursor:
        """Store `position` (and an optional tag such as the block hash) under `name`."""
        cursor = self.get(name)
        if cursor is None:
            cursor = Cursor(name=name, position=position, tag=tag)
            self._session.add(cursor)
        else:
            cursor.position = position
            cursor.tag = tag
        self._session.flush()
        return cursor

    def all(self) -> Sequence[Cursor]:
        return self._session.scalars(select(Cursor).order_by(Cursor.name)).all()
