"""Driving a block stage: forward to the tip, unwinding at reorgs, refusing too-deep ones.

bitcoind is replaced by an in-memory chain behind the same `call`/`batch` seam; the regtest
tests run the same driver against the real node.
"""

import pytest

from bridge.bitcoin.blocks import Block
from bridge.bitcoin.chain import BlockRef, BlockStage, ReorgTooDeep, sync_stage
from bridge.bitcoin.omni.indexer import OmniIndexer


class MemoryChain:
    """A best chain of empty blocks; `fork(height, tag)` replaces everything above `height`."""

    def __init__(self, length: int) -> None:
        self.hashes = [self._hash(h, "main") for h in range(length + 1)]

    @staticmethod
    def _hash(height: int, tag: str) -> str:
        return f"{tag}{height}".encode().hex().ljust(64, "0")

    def fork(self, height: int, tag: str, length: int) -> None:
        self.hashes = self.hashes[: height + 1] + [
            self._hash(h, tag) for h in range(height + 1, length + 1)
        ]

    async def call(self, method: str, *params):
        if method == "getblockcount":
            return len(self.hashes) - 1
        if method == "getblockhash":
            return self.hashes[params[0]]
        (block_hash, _verbosity) = params
        height = self.hashes.index(block_hash)
        raw = {"height": height, "hash": block_hash, "tx": []}
        if height:
            raw["previousblockhash"] = self.hashes[height - 1]
        return raw

    async def batch(self, calls):
        return [await self.call(method, *params) for method, params in calls]


class Recorder(BlockStage):
    """A stage that remembers what it applied and every unwind."""

    name = "recorder"

    def __init__(self, start: int = 1) -> None:
        self.applied: dict[int, str] = {}
        self.unwinds: list[int] = []
        self._start = start

    @property
    def start_height(self) -> int:
        return self._start

    def checkpoint(self) -> BlockRef | None:
        if not self.applied:
            return None
        height = max(self.applied)
        return BlockRef(height, self.applied[height])

    def hash_at(self, height: int) -> str | None:
        return self.applied.get(height)

    def apply_block(self, block: Block) -> None:
        checkpoint = self.checkpoint()
        assert checkpoint is None or block.prev_hash == checkpoint.hash
        self.applied[block.height] = block.hash

    def unwind(self, to_height: int) -> None:
        self.unwinds.append(to_height)
        self.applied = {h: v for h, v in self.applied.items() if h <= to_height}


async def test_stage_reaches_the_tip_from_its_start_height():
    chain, stage = MemoryChain(30), Recorder(start=5)
    assert await sync_stage(chain, stage, batch_size=7) == 30
    assert stage.applied == {h: chain.hashes[h] for h in range(5, 31)}


async def test_stop_height_bounds_the_sync():
    chain, stage = MemoryChain(30), Recorder()
    assert await sync_stage(chain, stage, stop_height=12) == 12
    assert stage.checkpoint().height == 12


async def test_reorg_unwinds_to_the_fork_and_follows_the_new_branch():
    chain, stage = MemoryChain(20), Recorder()
    await sync_stage(chain, stage)
    chain.fork(15, "side", 22)
    await sync_stage(chain, stage)
    assert stage.unwinds == [15]
    assert stage.applied == {h: chain.hashes[h] for h in range(1, 23)}


async def test_a_shorter_new_chain_still_unwinds():
    chain, stage = MemoryChain(20), Recorder()
    await sync_stage(chain, stage)
    chain.fork(17, "short", 18)
    assert await sync_stage(chain, stage) == 18
    assert stage.unwinds == [17] and stage.checkpoint().hash == chain.hashes[18]


async def test_reorg_below_the_kept_undo_data_is_refused():
    chain, indexer = MemoryChain(20), OmniIndexer(start_height=1, undo_depth=3)
    await sync_stage(chain, indexer)
    chain.fork(10, "deep", 21)
    with pytest.raises(ReorgTooDeep) as raised:
        await sync_stage(chain, indexer)
    assert raised.value.height == 17  # the parent of the oldest block with undo data
    assert indexer.checkpoint().height == 20  # refused before changing anything
