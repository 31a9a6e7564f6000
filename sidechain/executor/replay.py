"""Replay of Ethereum BlockchainTests fixtures: every block imported through an executor.

A fixture gives a genesis header, a `pre` state, blocks as RLP (those with `expectException` or
without a `blockHeader` must be rejected), the expected head (`lastblockhash`) and the expected
post-state (`postState` accounts or `postStateHash`). Importing a block decodes it with its
fork's block class, checks its header against its parent (py-evm's `validate_header` for the
fork, plus difficulty and blob gas derived from the parent), its uncles and blobs, executes it
with the executor under test and checks every field the header commits to. The head follows
the heaviest chain before the merge and the latest imported block after it.
"""

import inspect
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rlp
from eth.abc import BlockAPI, BlockHeaderAPI, VirtualMachineAPI
from eth.constants import BLANK_ROOT_HASH, MAX_UNCLE_DEPTH, MAX_UNCLES
from eth.db.atomic import AtomicDB
from eth.db.backends.memory import MemoryDB
from eth.exceptions import UnrecognizedTransactionType
from eth.tools._utils.normalization import normalize_account_state, normalize_block_header
from eth.typing import AccountState
from eth.vm.chain_context import ChainContext
from eth_typing import Hash32
from eth_utils import ValidationError, big_endian_to_int, decode_hex, encode_hex, keccak

from sidechain.errors import ExecutionError
from sidechain.executor.abc import BlockExecutorAPI, BlockExtras, PreState
from sidechain.executor.errors import FixtureError, InvalidBlock, UnknownFork
from sidechain.executor.forks import ForkSchedule, network_forks
from sidechain.executor.header import verify_execution
from sidechain.executor.parallel import WorkerPool
from sidechain.executor.registry import executor_class, make_executor
from sidechain.store import Store

_HEADER_NUMBER, _HEADER_TIMESTAMP = 8, 11  # positions in every fork's header RLP list
_MAX_ANCESTORS = 256
_STATE_GAS_LIMIT = 30_000_000  # any value: the header only gives the state its context


@dataclass(frozen=True)
class FixtureBlock:
    """One block of a fixture: its RLP (None if not even hex) and whether it must import."""

    rlp: bytes | None
    valid: bool
    expect_exception: str | None


@dataclass(frozen=True)
class BlockchainTest:
    name: str
    network: str
    chain_id: int
    no_proof: bool
    genesis_header: dict[str, Any]
    genesis_rlp: bytes | None
    pre: AccountState
    blocks: tuple[FixtureBlock, ...]
    post_state: AccountState | None
    post_state_hash: Hash32 | None
    last_block_hash: Hash32


def load_tests(path: Path) -> list[BlockchainTest]:
    """Every BlockchainTests test in a JSON file (`{name: fixture, ...}`)."""
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise FixtureError(path, str(error)) from error
    if not isinstance(raw, dict):
        raise FixtureError(path, "the top level is not an object of tests")
    try:
        return [_test(name, fixture) for name, fixture in raw.items() if name != "_info"]
    except (KeyError, TypeError, ValueError) as error:
        reason = f"not BlockchainTests JSON ({type(error).__name__}: {error})"
        raise FixtureError(path, reason) from error


def _test(name: str, fixture: dict[str, Any]) -> BlockchainTest:
    post_hash = fixture.get("postStateHash")
    return BlockchainTest(
        name=name,
        network=fixture["network"],
        chain_id=int(fixture.get("config", {}).get("chainid", "0x1"), 16),
        no_proof=fixture.get("sealEngine", "NoProof") == "NoProof",
        genesis_header=normalize_block_header(fixture["genesisBlockHeader"]),
        genesis_rlp=decode_hex(fixture["genesisRLP"]) if "genesisRLP" in fixture else None,
        pre=normalize_account_state(fixture["pre"]),
        blocks=tuple(_block(block) for block in fixture["blocks"]),
        post_state=normalize_account_state(fixture["postState"])
        if "postState" in fixture
        else None,
        post_state_hash=Hash32(decode_hex(post_hash)) if post_hash else None,
        last_block_hash=Hash32(decode_hex(fixture["lastblockhash"])),
    )


def _block(block: dict[str, Any]) -> FixtureBlock:
    try:
        encoded: bytes | None = decode_hex(block["rlp"])
    except ValueError:
        encoded = None
    exception = block.get("expectException")
    return FixtureBlock(encoded, exception is None and "blockHeader" in block, exception)


@dataclass(frozen=True)
class _Imported:
    header: BlockHeaderAPI
    uncles: tuple[BlockHeaderAPI, ...]
    total_difficulty: int


class ChainReplay:
    """One fixture's chain: every imported block, the head, and the state nodes in `store`
    (an LMDB store, so a parallel executor's workers read each block's pre-state there)."""

    def __init__(
        self, test: BlockchainTest, executor: BlockExecutorAPI, forks: ForkSchedule, store: Store
    ) -> None:
        self.test = test
        self.forks = forks
        self.executor = executor
        self.store = store
        self.speculated = 0  # transactions the executor ran in worker processes
        genesis = self._genesis()
        self.blocks: dict[Hash32, _Imported] = {
            genesis.hash: _Imported(genesis, (), genesis.difficulty)
        }
        self.head = genesis

    def _genesis(self) -> BlockHeaderAPI:
        fields = self.test.genesis_header
        vm_class = self.forks.vm_class_at(0, fields["timestamp"])
        db = MemoryDB()
        root = state_root_of(self.test.pre, vm_class, self.test.chain_id, db)
        self.store.commit(db.kv_store, {})
        if root != fields["stateRoot"]:
            raise InvalidBlock(f"genesis state root {encode_hex(root)} != the fixture's")
        if self.test.genesis_rlp is not None:
            header = rlp.decode(self.test.genesis_rlp, sedes=vm_class.get_block_class()).header
        else:
            header = vm_class.create_genesis_header(**_genesis_params(fields))
        if header.hash != fields["hash"]:
            raise InvalidBlock(f"genesis hash {encode_hex(header.hash)} != the fixture's")
        return header

    def import_block(self, encoded: bytes) -> BlockAPI:
        """Decode, validate, execute and verify one block; raises `InvalidBlock` or another
        `ExecutionError` (and stores nothing) if the block is not valid on its parent."""
        block, vm_class = self._decode(encoded)
        header = block.header
        parent_entry = self.blocks.get(header.parent_hash)
        if parent_entry is None:
            raise InvalidBlock(f"unknown parent {encode_hex(header.parent_hash)}")
        parent = parent_entry.header
        try:
            self._validate(block, vm_class, parent)
        except ValidationError as error:
            raise InvalidBlock(str(error)) from error
        withdrawals = tuple(getattr(block, "withdrawals", ()))
        with self.store.reading() as snapshot:
            pre = PreState(snapshot.state_db(), parent.state_root, self._ancestors(parent))
            result = self.executor.execute_block(
                pre,
                header,
                tuple(block.transactions),
                BlockExtras(tuple(block.uncles), withdrawals),
            )
        self.speculated += self.executor.stats().speculated
        verify_execution(header, result)
        self.store.commit(result.state_writes, {})
        total = parent_entry.total_difficulty + header.difficulty
        self.blocks[header.hash] = _Imported(header, tuple(block.uncles), total)
        heaviest = total > self.blocks[self.head.hash].total_difficulty
        if heaviest or header.difficulty == 0:
            self.head = header
        return block

    def _decode(self, encoded: bytes) -> tuple[BlockAPI, type[VirtualMachineAPI]]:
        try:
            fields = rlp.decode(encoded)
            header_fields = fields[0]
            vm_class = self.forks.vm_class_at(
                big_endian_to_int(header_fields[_HEADER_NUMBER]),
                big_endian_to_int(header_fields[_HEADER_TIMESTAMP]),
            )
            block = rlp.decode(encoded, sedes=vm_class.get_block_class())
        except (
            rlp.exceptions.RLPException,
            UnrecognizedTransactionType,  # a typed transaction before its fork
            IndexError,
            TypeError,
            ValueError,
        ) as error:
            raise InvalidBlock(f"undecodable RLP ({type(error).__name__}: {error})") from error
        return block, vm_class

    def _validate(
        self, block: BlockAPI, vm_class: type[VirtualMachineAPI], parent: BlockHeaderAPI
    ) -> None:
        header = block.header
        vm_class.validate_header(header, parent)
        expected = vm_class.create_header_from_parent(
            parent,
            timestamp=header.timestamp,
            gas_limit=header.gas_limit,
            coinbase=header.coinbase,
        )
        for field in ("difficulty", "excess_blob_gas"):
            if hasattr(header, field) and getattr(header, field) != getattr(expected, field):
                raise InvalidBlock(
                    f"{field} is {getattr(header, field)}, its parent gives "
                    f"{getattr(expected, field)}"
                )
        vm = vm_class(header, None, ChainContext(self.test.chain_id), None)  # type: ignore[arg-type]
        if not self.test.no_proof:
            vm.validate_seal(header)
        if keccak(rlp.encode(block.uncles)) != header.uncles_hash:
            raise InvalidBlock("uncles hash does not match the uncles")
        self._validate_uncles(block, vm)
        if hasattr(vm, "validate_block_blobs"):
            _validate_blobs(block, vm_class, parent)

    def _validate_uncles(self, block: BlockAPI, vm: VirtualMachineAPI) -> None:
        """py-evm's uncle rules (`Chain.validate_uncles`) over this replay's blocks."""
        if not block.uncles:
            return
        if len(block.uncles) > MAX_UNCLES:
            raise InvalidBlock(f"{len(block.uncles)} uncles, at most {MAX_UNCLES}")
        hashes = [uncle.hash for uncle in block.uncles]
        if len(set(hashes)) != len(hashes):
            raise InvalidBlock("duplicate uncles")
        ancestors = self._recent(block.header, MAX_UNCLE_DEPTH + 1)
        ancestor_hashes = {entry.header.hash for entry in ancestors}
        used_uncles = {uncle.hash for entry in ancestors for uncle in entry.uncles}
        for uncle in block.uncles:
            if uncle.hash in used_uncles or uncle.hash in ancestor_hashes:
                raise InvalidBlock(f"uncle {encode_hex(uncle.hash)} already included")
            if (
                uncle.parent_hash not in ancestor_hashes
                or uncle.parent_hash == block.header.parent_hash
            ):
                raise InvalidBlock(f"uncle {encode_hex(uncle.hash)} has no eligible parent")
            if not self.test.no_proof:
                vm.validate_seal(uncle)
            uncle_class = self.forks.vm_class_for(uncle)
            uncle_class.validate_uncle(block, uncle, self.blocks[uncle.parent_hash].header)

    def _recent(self, header: BlockHeaderAPI, count: int) -> list[_Imported]:
        entries = []
        parent_hash = header.parent_hash
        while parent_hash in self.blocks and len(entries) < count:
            entry = self.blocks[parent_hash]
            entries.append(entry)
            parent_hash = entry.header.parent_hash
        return entries

    def _ancestors(self, parent: BlockHeaderAPI) -> tuple[Hash32, ...]:
        older = self._recent(parent, _MAX_ANCESTORS - 1)
        return (parent.hash, *(entry.header.hash for entry in older))


def _validate_blobs(
    block: BlockAPI, vm_class: type[VirtualMachineAPI], parent: BlockHeaderAPI
) -> None:
    """Cancun's and Prague's blob rules (the fork's own `validate_block_blobs`)."""

    class _Parent:
        def get_block_header_by_hash(self, block_hash: Hash32) -> BlockHeaderAPI:
            return parent

    vm = vm_class(block.header, _Parent(), ChainContext(1), None)  # type: ignore[arg-type]
    vm.validate_block_blobs(block)  # type: ignore[attr-defined]


_GENESIS_FIELDS = {
    "coinbase": "coinbase",
    "difficulty": "difficulty",
    "extraData": "extra_data",
    "gasLimit": "gas_limit",
    "mixHash": "mix_hash",
    "nonce": "nonce",
    "stateRoot": "state_root",
    "timestamp": "timestamp",
    "baseFeePerGas": "base_fee_per_gas",
    "withdrawalsRoot": "withdrawals_root",
    "blobGasUsed": "blob_gas_used",
    "excessBlobGas": "excess_blob_gas",
    "parentBeaconBlockRoot": "parent_beacon_block_root",
    "requestsHash": "requests_hash",
}


def _genesis_params(fields: dict[str, Any]) -> dict[str, Any]:
    """A fixture's genesis header fields as py-evm `create_genesis_header` arguments."""
    return {name: fields[key] for key, name in _GENESIS_FIELDS.items() if key in fields}


def state_root_of(
    accounts: AccountState, vm_class: type[VirtualMachineAPI], chain_id: int, db: MemoryDB
) -> Hash32:
    """The state root of `accounts`, its nodes written to `db`."""
    header = vm_class.create_genesis_header(
        state_root=BLANK_ROOT_HASH, difficulty=0, gas_limit=_STATE_GAS_LIMIT, timestamp=0
    )
    state = vm_class.build_state(AtomicDB(db), header, ChainContext(chain_id), ())
    for address, account in accounts.items():
        for slot, value in account["storage"].items():
            state.set_storage(address, slot, value)
        state.set_nonce(address, account["nonce"])
        state.set_code(address, account["code"])
        state.set_balance(address, account["balance"])
    state.persist()
    return state.state_root


@dataclass(frozen=True)
class TestOutcome:
    name: str
    executor: str
    passed: bool
    detail: str
    network: str = ""


class Replayer:
    """Replays tests through the executors named: each test on a fresh chain in its own
    temporary store. The parallel executor sends every block with a transaction to its
    workers (no small-block threshold), and its workers are started once for the whole run."""

    def __init__(self, names: tuple[str, ...], workers: int | None = None) -> None:
        self.names = names
        self.workers = workers
        self._pool: WorkerPool | None = None

    def run(self, test: BlockchainTest) -> TestOutcome:
        """Replay `test` with each executor: it passes only if it passes with all."""
        outcomes = [self.run_one(test, name) for name in self.names]
        failed = [outcome for outcome in outcomes if not outcome.passed]
        shown = failed[0] if failed else outcomes[-1]
        return TestOutcome(test.name, "+".join(self.names), not failed, shown.detail, test.network)

    def run_one(self, test: BlockchainTest, name: str) -> TestOutcome:
        """Replay `test` with the executor registered as `name`; a failure's detail says which
        check failed. A crash (any other exception) fails the test, never counts as a
        rejection."""
        try:
            forks = network_forks(test.network)
        except UnknownFork as error:
            return TestOutcome(test.name, name, False, str(error), test.network)
        with tempfile.TemporaryDirectory(prefix="sluice-replay-") as tmp:
            store = Store(Path(tmp))
            executor = make_executor(name, test.chain_id, forks, **self._options(name, tmp))
            try:
                return _replay(test, name, ChainReplay(test, executor, forks, store))
            except ExecutionError as error:
                return TestOutcome(test.name, name, False, str(error), test.network)
            except Exception as error:  # a crash of the replay or the executor fails this test
                detail = f"crashed: {type(error).__name__}: {error}"
                return TestOutcome(test.name, name, False, detail, test.network)
            finally:
                executor.close()
                store.close()

    def _options(self, name: str, store_path: str) -> dict[str, Any]:
        options: dict[str, Any] = {"store_path": Path(store_path), "min_parallel_txs": 1}
        if "pool" in inspect.signature(executor_class(name).__init__).parameters:
            if self._pool is None:
                self._pool = WorkerPool(self.workers or os.cpu_count() or 2)
            options["pool"] = self._pool
        return options

    def close(self) -> None:
        """Stop the shared workers."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None


def run_test(test: BlockchainTest, name: str) -> TestOutcome:
    """Replay one test with one executor (workers, if any, started for it alone)."""
    replayer = Replayer((name,))
    try:
        return replayer.run_one(test, name)
    finally:
        replayer.close()


def _replay(test: BlockchainTest, name: str, replay: ChainReplay) -> TestOutcome:
    def outcome(passed: bool, detail: str) -> TestOutcome:
        return TestOutcome(test.name, name, passed, detail, test.network)

    for index, block in enumerate(test.blocks):
        rejection = _import(replay, block)
        if block.valid and rejection is not None:
            return outcome(False, f"block {index} rejected: {rejection}")
        if not block.valid and rejection is None:
            return outcome(False, f"block {index} imported, expected {block.expect_exception}")
    if replay.head.hash != test.last_block_hash:
        return outcome(
            False,
            f"head {encode_hex(replay.head.hash)}, expected {encode_hex(test.last_block_hash)}",
        )
    expected_root = test.post_state_hash
    if test.post_state is not None:
        vm_class = replay.forks.vm_class_for(replay.head)
        expected_root = state_root_of(test.post_state, vm_class, test.chain_id, MemoryDB())
    if expected_root is not None and expected_root != replay.head.state_root:
        return outcome(
            False,
            f"post-state root {encode_hex(replay.head.state_root)}, "
            f"expected {encode_hex(expected_root)}",
        )
    detail = f"{len(test.blocks)} blocks"
    if replay.speculated:
        detail += f", {replay.speculated} transactions executed in workers"
    return outcome(True, detail)


def _import(replay: ChainReplay, block: FixtureBlock) -> str | None:
    """None if the block imported, else why it was rejected."""
    if block.rlp is None:
        return "rlp is not hex"
    try:
        replay.import_block(block.rlp)
    except (ExecutionError, ValidationError) as error:
        return str(error)
    return None


def iter_tests(paths: list[Path]) -> Iterator[BlockchainTest]:
    """The tests of every file, directories searched for *.json."""
    for path in paths:
        files = sorted(path.rglob("*.json")) if path.is_dir() else [path]
        for file in files:
            yield from load_tests(file)
