"""What the parallel-executor tests share: a test executor, compiled contracts, and the check
that both executors give one block the same result."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import vyper
from eth_typing import Address
from eth_utils import to_canonical_address

from sidechain.executor.abc import BlockResult
from sidechain.executor.counters import CounterSlot
from sidechain.executor.parallel import ParallelExecutor
from sidechain.executor.sequential import SequentialExecutor
from sidechain.executor.workloads import WorkloadChain
from sidechain.genesis import DevAccount
from sidechain.system_tx import BlockTransaction


def compiled(source: str) -> bytes:
    """The deployment bytecode of a Vyper `source`."""
    output = vyper.compile_code(source, output_formats=["bytecode"])
    return bytes.fromhex(output["bytecode"].removeprefix("0x"))


def address_of(account: DevAccount) -> Address:
    return Address(to_canonical_address(account.address))


@contextmanager
def parallel_executor(
    chain: WorkloadChain, counter_slots: Sequence[CounterSlot]
) -> Iterator[ParallelExecutor]:
    """Two workers on `chain`'s store; blocks from 8 transactions on go to them."""
    executor = ParallelExecutor(
        chain.chain_id,
        workers=2,
        store_path=chain.path,
        counter_slots=counter_slots,
        min_parallel_txs=8,
    )
    try:
        yield executor
    finally:
        executor.close()


def run_both(
    chain: WorkloadChain, parallel: ParallelExecutor, txs: Sequence[BlockTransaction]
) -> BlockResult:
    """Execute `txs` on the chain head with both executors; assert equal results: state root,
    every receipt (status, cumulative gas, logs), error and output, gas, fees, list roots."""
    header = chain.next_header()
    with chain.store.reading() as snapshot:
        pre = chain.pre_state(snapshot)
        expected = SequentialExecutor(chain.chain_id).execute_block(pre, header, tuple(txs))
        got = parallel.execute_block(pre, header, tuple(txs))
    assert got.state_root == expected.state_root
    assert got.results == expected.results
    assert got.gas_used == expected.gas_used
    assert got.fees == expected.fees
    assert (got.receipts_root, got.bloom) == (expected.receipts_root, expected.bloom)
    # the new state root's node is in the writes: the block can be committed and read back
    assert got.state_root in got.state_writes or got.state_root in pre.db  # type: ignore[operator]
    return got
