"""Following bitcoind's best chain: the `BlockStage` interface and the loop that drives one.

A stage (reth's idea) consumes blocks in order with `apply_block`, goes back with `unwind`, and
exposes a checkpoint (the last block it applied) so a restarted process resumes there. The
driver compares the checkpoint with bitcoind's chain on every pass: a block whose parent is not
the checkpoint, or a checkpoint no longer on the best chain, is a reorg, answered by unwinding
to the highest block both still share.
"""

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

from bridge.bitcoin.blocks import Block, RPCClient, fetch_blocks
from bridge.bitcoin.errors import BitcoinError

log = logging.getLogger(__name__)


class ReorgTooDeep(BitcoinError):
    """The fork point is below the oldest block the stage still knows the hash of."""

    def __init__(self, stage: str, height: int) -> None:
        self.stage = stage
        self.height = height
        super().__init__(
            f"{stage}: reorg reaches below height {height}, the oldest block it still knows"
        )


@dataclass(frozen=True)
class BlockRef:
    height: int
    hash: str


class BlockStage(ABC):
    """Something that consumes Bitcoin blocks in chain order and can be rolled back."""

    name: str = "stage"

    @property
    @abstractmethod
    def start_height(self) -> int:
        """The first block to apply when there is no checkpoint yet."""

    @abstractmethod
    def checkpoint(self) -> BlockRef | None:
        """The last block applied, or None before the first."""

    @abstractmethod
    def hash_at(self, height: int) -> str | None:
        """The hash of the block applied at `height`, None if the stage no longer keeps it."""

    @abstractmethod
    def apply_block(self, block: Block) -> None:
        """Apply `block`, the child of the checkpoint (or at `start_height`)."""

    @abstractmethod
    def unwind(self, to_height: int) -> None:
        """Undo every block above `to_height`; the checkpoint becomes the block at `to_height`."""


class ObservedStage(BlockStage):
    """`stage`, with each block it applies also shown to `observe` (e.g. to fill a cache)."""

    def __init__(self, stage: BlockStage, observe: Callable[[Block], None]) -> None:
        self._stage = stage
        self._observe = observe
        self.name = stage.name

    @property
    def start_height(self) -> int:
        return self._stage.start_height

    def checkpoint(self) -> BlockRef | None:
        return self._stage.checkpoint()

    def hash_at(self, height: int) -> str | None:
        return self._stage.hash_at(height)

    def apply_block(self, block: Block) -> None:
        self._stage.apply_block(block)
        self._observe(block)

    def unwind(self, to_height: int) -> None:
        self._stage.unwind(to_height)


async def sync_stage(
    rpc: RPCClient, stage: BlockStage, batch_size: int = 20, stop_height: int | None = None
) -> int:
    """Bring `stage` to bitcoind's tip (or `stop_height`), unwinding on reorgs; returns the
    height reached."""
    while True:
        tip = int(await rpc.call("getblockcount"))
        if stop_height is not None:
            tip = min(tip, stop_height)
        checkpoint = stage.checkpoint()
        if checkpoint is not None and not await _on_best_chain(rpc, checkpoint, tip):
            fork = await find_fork(rpc, stage, min(checkpoint.height, tip))
            log.info("%s: reorg, unwinding from %d to %d", stage.name, checkpoint.height, fork)
            stage.unwind(fork)
            continue
        first = stage.start_height if checkpoint is None else checkpoint.height + 1
        if first > tip:
            return tip
        for block in await fetch_blocks(rpc, range(first, min(tip, first + batch_size - 1) + 1)):
            checkpoint = stage.checkpoint()
            if checkpoint is not None and block.prev_hash != checkpoint.hash:
                break  # the chain moved under us: the next pass finds the fork
            stage.apply_block(block)


async def find_fork(rpc: RPCClient, stage: BlockStage, height: int) -> int:
    """The highest height <= `height` where the stage's block is still on the best chain."""
    while height >= stage.start_height:
        ours = stage.hash_at(height)
        if ours is None:
            raise ReorgTooDeep(stage.name, height + 1)
        if await rpc.call("getblockhash", height) == ours:
            return height
        height -= 1
    return stage.start_height - 1


async def _on_best_chain(rpc: RPCClient, block: BlockRef, tip: int) -> bool:
    return block.height <= tip and await rpc.call("getblockhash", block.height) == block.hash
