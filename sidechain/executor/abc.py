"""The block-execution interface: what goes in (pre-state, header, transactions), what comes out.

Every executor (the sequential reference, the parallel one) implements `BlockExecutorAPI`; the
node, the producer and block import only ever call `execute_block`. An executor never writes to
the store: the state-trie nodes it produced come back in `BlockResult.state_writes`, and the
caller commits them with the block in one store transaction.
"""

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from eth.abc import BlockHeaderAPI, DatabaseAPI, ReceiptAPI, WithdrawalAPI
from eth.constants import BLANK_ROOT_HASH
from eth_typing import Address, Hash32

from sidechain.system_tx import BlockTransaction


@dataclass(frozen=True)
class PreState:
    """A block's starting point: a read-only database view at `state_root`.

    `db` maps trie-node hashes and code hashes to their values (a `DatabaseAPI`); an executor
    reads it and never writes to it. `ancestor_hashes` are the hashes of the previous blocks,
    parent first, at most 256 (for BLOCKHASH).
    """

    db: DatabaseAPI
    state_root: Hash32
    ancestor_hashes: tuple[Hash32, ...]


@dataclass(frozen=True)
class BlockExtras:
    """What a block carries besides transactions that execution applies: uncles (their
    rewards, before Paris) and withdrawals (Shanghai on). Our chain's blocks have neither."""

    uncles: tuple[BlockHeaderAPI, ...] = ()
    withdrawals: tuple[WithdrawalAPI, ...] = ()


NO_EXTRAS = BlockExtras()


@dataclass(frozen=True)
class TxResult:
    """What one transaction did, beyond its consensus receipt.

    `gas_used` is this transaction's own gas (not cumulative); `fee` is the wei it pays for
    that gas (on our chain all of it goes to the fee vault; 0 for deposit transactions);
    `error` names why execution failed (revert, out of gas...) or is None on success;
    `output` is the return data or the revert data.
    """

    tx_hash: Hash32
    receipt: ReceiptAPI
    gas_used: int
    effective_gas_price: int
    fee: int
    contract_address: Address | None
    error: str | None
    output: bytes


@dataclass(frozen=True)
class BlockResult:
    """The outcome of executing a block: everything a header commits to, and the state writes.

    `state_writes` are the new state-trie nodes and contract codes (key -> value) to persist;
    `bloom` is the logs bloom as an int; `requests_hash` is the EIP-7685 commitment (None
    before Prague); `withdrawals_root` is the root of the block's withdrawals list.
    """

    transactions: tuple[BlockTransaction, ...]
    results: tuple[TxResult, ...]
    gas_used: int
    fees: int
    state_root: Hash32
    transactions_root: Hash32
    receipts_root: Hash32
    bloom: int
    blob_gas_used: int
    requests_hash: Hash32 | None
    state_writes: Mapping[bytes, bytes]
    withdrawals_root: Hash32 = BLANK_ROOT_HASH

    @property
    def receipts(self) -> tuple[ReceiptAPI, ...]:
        return tuple(result.receipt for result in self.results)


@dataclass(frozen=True)
class ExecutionStats:
    """How the last block went inside an executor: transactions executed speculatively in
    workers and those re-executed (Block-STM), seconds per phase (execution, state root,
    ...), and per state key (see `mvstate`) how many speculations it invalidated, for
    benchmarks and for contract authors hunting hot slots."""

    reexecutions: int = 0
    speculated: int = 0
    time_split: Mapping[str, float] = field(default_factory=dict)
    conflicts: Mapping[tuple[object, ...], int] = field(default_factory=dict)


ProgressHook = Callable[[int, int], None]


class BlockExecutorAPI(ABC):
    """Executes a block's transactions on a pre-state, in block order semantics.

    `progress`, if set, hears (transactions done, transactions in the block) about every
    hundredth of a block, for progress bars of long runs.
    """

    progress: ProgressHook | None = None

    @abstractmethod
    def execute_block(
        self,
        pre_state: PreState,
        header: BlockHeaderAPI,
        txs: tuple[BlockTransaction, ...],
        extras: BlockExtras = NO_EXTRAS,
    ) -> BlockResult:
        """Run the fork's pre-block system calls, then `txs` in order, then the fork's block
        end (withdrawals, requests, block rewards or our fee-vault credit).

        The fork is the executor's `ForkSchedule` entry for the header's number (our chain:
        `SluiceVM`); `extras` carries the uncles and withdrawals of an imported block.

        `header` supplies the block environment (number, timestamp, coinbase, gas limit, base
        fee, parent beacon root, excess blob gas); the fields it commits to (state root,
        receipts root, gas used, ...) are ignored here: `sidechain.executor.header` seals a
        header from the result or checks an imported header against it.

        Raises `InvalidTransaction` if a transaction cannot be included (bad nonce, balance
        below its cost, fee cap below the base fee, block gas limit exceeded...).
        """

    def stats(self) -> ExecutionStats:
        """Figures about the last `execute_block` (none unless the executor keeps them)."""
        return ExecutionStats()

    @abstractmethod
    def start(self) -> None:
        """Start now what executing blocks needs (worker processes) instead of with the first
        block that needs it: a benchmark times blocks, not process starts."""

    @abstractmethod
    def close(self) -> None:
        """Release workers or other resources (nothing for the sequential executor)."""
