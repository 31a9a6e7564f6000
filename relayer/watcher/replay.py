"""The watcher's own copy of the sidechain state: every block re-executed with the sequential
executor, so each recorded state commitment is checked against a root the watcher computed.

The chain starts from the genesis file (a genesis timestamp of 0 means "when initialised": the
node's block 0 says when; the genesis built here must hash to the node's block 0, or the file
is not this chain's). Then each block comes from the node as raw RLP (`debug_getRawBlock`,
deposit transactions included) and runs on the state this watcher computed for its parent.
Where the block's header claims other than what execution produced (a state root, gas,
receipts), the watcher notes the divergence and goes on from its own state: the roots it
keeps are its own, never the header's.

Store (LMDB, `datadir/chain`, one write transaction per block, so a kill -9 leaves whole
blocks): state-trie nodes, and in the chain part `head` (the last executed block), and per
height `R` (this watcher's state root), `N` (the block's hash), `H` (its header), `D` (a
divergence, JSON). Checkpoint: `head`.
"""

import json
import logging
from dataclasses import replace
from pathlib import Path

import rlp
from eth.abc import BlockHeaderAPI
from eth.vm.forks.prague.blocks import PragueBlockHeader
from eth_typing import Hash32

from relayer.errors import WatcherError
from relayer.node_client import NodeClient
from sidechain.errors import HeaderMismatch, InvalidTransaction
from sidechain.executor.abc import PreState
from sidechain.executor.header import verify_header, verify_header_against_parent
from sidechain.executor.sequential import SequentialExecutor
from sidechain.genesis import Genesis, build_genesis
from sidechain.rpc.serialize import decode_raw_block
from sidechain.store import Store
from sidechain.views import StoredBlock

log = logging.getLogger(__name__)
CHAIN_DIR = "chain"
BATCH_BLOCKS = 50
ANCESTORS = 256  # BLOCKHASH reaches this far back


def _key(prefix: bytes, number: int) -> bytes:
    return prefix + number.to_bytes(8, "big")


class ChainReplay:
    """A Loop: re-executes the node's new blocks; `root_at(height)` is this watcher's root."""

    name = "replay"

    def __init__(self, datadir: Path, genesis: Genesis, node: NodeClient) -> None:
        self._store = Store(datadir / CHAIN_DIR)
        self._genesis = genesis
        self._node = node
        self._executor = SequentialExecutor(genesis.chain_id)

    def close(self) -> None:
        self._executor.close()
        self._store.close()

    def head(self) -> int | None:
        """The last block executed here (None before genesis)."""
        raw = self._store.chain_get(b"head")
        return None if raw is None else int.from_bytes(raw, "big")

    def root_at(self, height: int) -> bytes | None:
        """The state root this watcher computed after block `height` (None: not that far)."""
        return self._store.chain_get(_key(b"R", height))

    def divergence_at(self, height: int) -> dict[str, str] | None:
        raw = self._store.chain_get(_key(b"D", height))
        return None if raw is None else dict(json.loads(raw))

    def checkpoint(self) -> int | None:
        return self.head()

    async def unwind(self, height: int) -> None:
        """A Bitcoin reorg changes nothing here: the sidechain's blocks are final."""

    async def execute(self) -> bool:
        """Up to BATCH_BLOCKS blocks; True while the node has more."""
        head = self.head()
        if head is None:
            await self._start()
            return True
        tip = await self._node.block_number()
        last = min(tip, head + BATCH_BLOCKS)
        for number in range(head + 1, last + 1):
            self._execute(number, await self._raw_block(number))
        return last < tip

    async def _raw_block(self, number: int) -> StoredBlock:
        raw = await self._node.call("debug_getRawBlock", hex(number))
        try:
            block = decode_raw_block(bytes.fromhex(str(raw).removeprefix("0x")))
        except (rlp.DecodingError, rlp.DeserializationError, ValueError) as error:
            raise WatcherError(f"the node's block {number} does not decode: {error}") from error
        if block.number != number:
            raise WatcherError(f"asked the node for block {number}, got {block.number}")
        return block

    async def _start(self) -> None:
        """The genesis state, built here from the file, checked against the node's block 0."""
        first = await self._raw_block(0)
        genesis = self._genesis
        if genesis.timestamp == 0:
            genesis = replace(genesis, timestamp=first.header.timestamp)
        built = build_genesis(genesis)
        if built.header.hash != first.hash:
            raise WatcherError(
                f"the genesis file builds block 0 {built.header.hash.hex()}, the node's is "
                f"{first.hash.hex()}: it is not this chain's genesis"
            )
        writes = self._writes(built.header, built.header.state_root, None)
        self._store.commit(dict(built.state_writes), writes)
        log.info("watcher: genesis built, state root %s", built.header.state_root.hex())

    def _execute(self, number: int, block: StoredBlock) -> None:
        parent = self._header(number - 1)
        if block.header.parent_hash != parent.hash:
            raise WatcherError(
                f"block {number} of the node does not follow block {number - 1} as executed "
                f"here (parent {block.header.parent_hash.hex()}, here {parent.hash.hex()})"
            )
        own_root = self.root_at(number - 1)
        assert own_root is not None
        ancestors = self._ancestors(number - 1)
        with self._store.reading() as snapshot:
            pre = PreState(snapshot.state_db(), Hash32(own_root), ancestors)
            try:
                result = self._executor.execute_block(pre, block.header, block.transactions)
            except InvalidTransaction as error:
                raise WatcherError(
                    f"block {number} holds a transaction that is invalid in its order ({error}):"
                    " the watcher cannot go past it"
                ) from error
        divergence = None
        try:
            verify_header_against_parent(block.header, parent)
            verify_header(block.header, result)
        except HeaderMismatch as mismatch:
            divergence = {
                "field": mismatch.field,
                "claimed": _shown(mismatch.claimed),
                "computed": _shown(mismatch.computed),
            }
            log.critical("watcher: block %d diverges from execution: %s", number, mismatch)
        writes = self._writes(block.header, result.state_root, divergence)
        self._store.commit(result.state_writes, writes)

    @staticmethod
    def _writes(
        header: BlockHeaderAPI, own_root: bytes, divergence: dict[str, str] | None
    ) -> dict[bytes, bytes]:
        """The chain part of one block: the head moves to it, with this watcher's root."""
        number = header.block_number
        writes = {
            b"head": number.to_bytes(8, "big"),
            _key(b"R", number): bytes(own_root),
            _key(b"N", number): bytes(header.hash),
            _key(b"H", number): rlp.encode(header),
        }
        if divergence is not None:
            writes[_key(b"D", number)] = json.dumps(divergence).encode()
        return writes

    def _header(self, number: int) -> BlockHeaderAPI:
        raw = self._store.chain_get(_key(b"H", number))
        if raw is None:
            raise WatcherError(f"block {number} is missing from the watcher's store")
        return rlp.decode(raw, sedes=PragueBlockHeader)

    def _ancestors(self, parent: int) -> tuple[Hash32, ...]:
        """Hashes of `parent` and its ancestors, newest first, at most 256 (for BLOCKHASH)."""
        first = max(0, parent - ANCESTORS + 1)
        found = (self._store.chain_get(_key(b"N", n)) for n in range(parent, first - 1, -1))
        return tuple(Hash32(value) for value in found if value is not None)


def _shown(value: object) -> str:
    return "0x" + value.hex() if isinstance(value, bytes) else str(value)
