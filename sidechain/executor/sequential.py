"""The sequential reference executor: a block's transactions one after another on one state."""

import time

from eth.abc import BlockHeaderAPI, StateAPI, VirtualMachineAPI
from eth.constants import BLANK_ROOT_HASH
from eth.db.atomic import AtomicDB
from eth.vm.chain_context import ChainContext
from eth.vm.forks.cancun.state import get_total_blob_gas
from eth_typing import Hash32

from sidechain.executor.abc import (
    NO_EXTRAS,
    BlockExecutorAPI,
    BlockExtras,
    BlockResult,
    ExecutionStats,
    PreState,
    TxResult,
)
from sidechain.executor.forks import SLUICE_FORKS, BlockFrame, ForkSchedule
from sidechain.executor.pipeline import TransactionPipeline
from sidechain.executor.trie_root import ordered_trie_root
from sidechain.store import WriteOverlay
from sidechain.system_tx import BlockTransaction, DepositTransaction
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
        self._pipelines: dict[type[VirtualMachineAPI], TransactionPipeline] = {}
        self._stats = ExecutionStats()

    def pipeline(self, vm_class: type[VirtualMachineAPI]) -> TransactionPipeline:
        if vm_class not in self._pipelines:
            self._pipelines[vm_class] = TransactionPipeline(
                self.chain_id, vm_class, self.forks.unprotected_txs
            )
        return self._pipelines[vm_class]

    def execute_block(
        self,
        pre_state: PreState,
        header: BlockHeaderAPI,
        txs: tuple[BlockTransaction, ...],
        extras: BlockExtras = NO_EXTRAS,
    ) -> BlockResult:
        clock = _PhaseClock()
        vm_class = self.forks.vm_class_for(header)
        state, overlay = build_state(pre_state, header, self.chain_id, vm_class)
        frame = BlockFrame(
            vm_class, state, header, self.chain_id, extras.uncles, extras.withdrawals
        )
        frame.begin()
        pipeline = self.pipeline(vm_class)
        results: list[TxResult] = []
        cumulative = 0
        clock.lap("setup")
        for tx in txs:
            result = pipeline.apply(state, tx, cumulative, header.gas_limit)
            cumulative += result.gas_used
            results.append(result)
        clock.lap("execution")
        requests_hash = frame.finish(txs, tuple(r.receipt for r in results))
        clock.lap("block_end")
        state.persist()
        clock.lap("state_root")
        block = finish_block(txs, tuple(results), state.state_root, requests_hash, overlay, extras)
        clock.lap("list_roots")
        self._stats = ExecutionStats(time_split=clock.laps)
        return block

    def stats(self) -> ExecutionStats:
        return self._stats

    def close(self) -> None:
        """Nothing to release: the sequential executor holds no workers."""


class _PhaseClock:
    """Seconds spent per phase of a block, for `ExecutionStats.time_split`."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.laps[phase] = round(now - self._last, 4)
        self._last = now


def finish_block(
    txs: tuple[BlockTransaction, ...],
    results: tuple[TxResult, ...],
    state_root: Hash32,
    requests_hash: Hash32 | None,
    overlay: WriteOverlay,
    extras: BlockExtras = NO_EXTRAS,
) -> BlockResult:
    """Assemble a `BlockResult`: roots of the transactions, receipts and withdrawals, bloom, gas."""
    receipts = tuple(result.receipt for result in results)
    bloom = 0
    for receipt in receipts:
        bloom |= receipt.bloom
    return BlockResult(
        transactions=txs,
        results=results,
        gas_used=receipts[-1].gas_used if receipts else 0,
        fees=sum(result.fee for result in results),
        state_root=state_root,
        transactions_root=ordered_trie_root([tx.encode() for tx in txs]),
        receipts_root=ordered_trie_root([receipt.encode() for receipt in receipts]),
        bloom=bloom,
        blob_gas_used=sum(
            get_total_blob_gas(tx) for tx in txs if not isinstance(tx, DepositTransaction)
        ),
        requests_hash=requests_hash,
        state_writes=overlay.writes,
        withdrawals_root=(
            ordered_trie_root([w.encode() for w in extras.withdrawals])
            if extras.withdrawals
            else BLANK_ROOT_HASH
        ),
    )
