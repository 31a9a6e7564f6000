"""The sequential reference executor: a block's transactions one after another on one state.

Transactions run through the fork's py-evm state over the field-level account database
(`runner.BlockState`), which reads the pre-state trie once per field and keeps the block's
changes in plain dicts; the post-state root is built from those changes in one batched pass
(`state_root`), each trie node hashed once. The parallel executor shares all of it, so the
benchmark compares like with like; `build_state` is the plain py-evm state for calls.
"""

from eth.abc import BlockHeaderAPI, StateAPI, VirtualMachineAPI
from eth.db.atomic import AtomicDB
from eth.vm.chain_context import ChainContext

from sidechain.executor.abc import (
    NO_EXTRAS,
    BlockExecutorAPI,
    BlockExtras,
    BlockResult,
    ExecutionStats,
    PreState,
    TxResult,
)
from sidechain.executor.forks import SLUICE_FORKS, ForkSchedule
from sidechain.executor.runner import BlockEnv, BlockState, PhaseClock, Progress
from sidechain.store import WriteOverlay
from sidechain.system_tx import BlockTransaction
from sidechain.vm import SluiceVM


def build_state(
    pre_state: PreState,
    header: BlockHeaderAPI,
    chain_id: int,
    vm_class: type[VirtualMachineAPI] = SluiceVM,
) -> tuple[StateAPI, WriteOverlay]:
    """A py-evm state of `vm_class`'s fork for `header` on `pre_state`, writing into a fresh
    overlay."""
    overlay = WriteOverlay(pre_state.db)
    state = vm_class.build_state(
        AtomicDB(overlay),
        header.copy(state_root=pre_state.state_root),
        ChainContext(chain_id),
        pre_state.ancestor_hashes,
    )
    return state, overlay


class SequentialExecutor(BlockExecutorAPI):
    """Applies transactions in block order through the shared `TransactionPipeline`."""

    name = "sequential"

    def __init__(self, chain_id: int, forks: ForkSchedule = SLUICE_FORKS) -> None:
        self.chain_id = chain_id
        self.forks = forks
        self._stats = ExecutionStats()

    def block_env(self, pre_state: PreState, header: BlockHeaderAPI) -> BlockEnv:
        """The environment of `header`'s block on `pre_state` under this chain's forks."""
        return BlockEnv(
            vm_class=self.forks.vm_class_for(header),
            header=header,
            chain_id=self.chain_id,
            unprotected_txs=self.forks.unprotected_txs,
            request_contracts=self.forks.request_contracts,
            ancestor_hashes=pre_state.ancestor_hashes,
            pre_root=pre_state.state_root,
        )

    def execute_block(
        self,
        pre_state: PreState,
        header: BlockHeaderAPI,
        txs: tuple[BlockTransaction, ...],
        extras: BlockExtras = NO_EXTRAS,
    ) -> BlockResult:
        clock = PhaseClock()
        block = BlockState(self.block_env(pre_state, header), pre_state, extras)
        block.commit(block.begin())
        clock.lap("setup")
        results: list[TxResult] = []
        cumulative = 0
        progress = Progress(self.progress, len(txs))
        for tx in txs:
            result = block.apply(tx, cumulative)
            cumulative += result.gas_used
            results.append(result)
            progress(len(results))
        clock.lap("execution")
        requests_hash = block.finish(txs, results)
        clock.lap("block_end")
        state_root = block.state_root()
        clock.lap("state_root")
        outcome = block.result(txs, results, state_root, requests_hash)
        clock.lap("list_roots")
        self._stats = ExecutionStats(time_split=clock.rounded())
        return outcome

    def stats(self) -> ExecutionStats:
        return self._stats

    def start(self) -> None:
        """Nothing to start: the sequential executor holds no workers."""

    def close(self) -> None:
        """Nothing to release: the sequential executor holds no workers."""
