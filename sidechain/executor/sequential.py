"""The sequential reference executor: a block's transactions one after another on one state."""

from eth.abc import BlockHeaderAPI, StateAPI
from eth.db.atomic import AtomicDB
from eth.vm.chain_context import ChainContext
from eth.vm.forks.cancun.state import get_total_blob_gas
from eth_typing import Hash32

from sidechain.executor.abc import BlockExecutorAPI, BlockResult, PreState, TxResult
from sidechain.executor.pipeline import TransactionPipeline
from sidechain.executor.trie_root import ordered_trie_root
from sidechain.predeploys import FEE_VAULT_ADDRESS
from sidechain.store import WriteOverlay
from sidechain.system_tx import BlockTransaction, DepositTransaction
from sidechain.vm import SluiceVM


def build_state(
    pre_state: PreState, header: BlockHeaderAPI, chain_id: int
) -> tuple[StateAPI, WriteOverlay]:
    """A py-evm state for `header` on `pre_state`, writing into a fresh overlay."""
    overlay = WriteOverlay(pre_state.db)
    state = SluiceVM.build_state(
        AtomicDB(overlay),
        header.copy(state_root=pre_state.state_root),
        ChainContext(chain_id),
        pre_state.ancestor_hashes,
    )
    return state, overlay


class SequentialExecutor(BlockExecutorAPI):
    """Applies transactions in block order through the shared `TransactionPipeline`."""

    def __init__(self, chain_id: int) -> None:
        self.chain_id = chain_id
        self.pipeline = TransactionPipeline(chain_id)

    def execute_block(
        self, pre_state: PreState, header: BlockHeaderAPI, txs: tuple[BlockTransaction, ...]
    ) -> BlockResult:
        state, overlay = build_state(pre_state, header, self.chain_id)
        vm = SluiceVM.on_state(state, header, self.chain_id)
        block = vm.get_block_class()(header, transactions=[], uncles=[], withdrawals=[])
        vm.block_preprocessing(block)
        results: list[TxResult] = []
        cumulative = 0
        for tx in txs:
            result = self.pipeline.apply(state, tx, cumulative, header.gas_limit)
            cumulative += result.gas_used
            results.append(result)
        requests_hash = vm.block_postprocessing(block).header.requests_hash
        fees = sum(result.fee for result in results)
        if fees:
            state.delta_balance(FEE_VAULT_ADDRESS, fees)
        state.persist()
        return finish_block(txs, tuple(results), state.state_root, requests_hash, overlay)

    def close(self) -> None:
        """Nothing to release: the sequential executor holds no workers."""


def finish_block(
    txs: tuple[BlockTransaction, ...],
    results: tuple[TxResult, ...],
    state_root: Hash32,
    requests_hash: Hash32,
    overlay: WriteOverlay,
) -> BlockResult:
    """Assemble a `BlockResult`: roots of the transactions and receipts, bloom, gas."""
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
    )
