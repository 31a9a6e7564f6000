"""The parallel executor gives the sequential executor's result on every kind of block."""

import multiprocessing
import os
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth._utils.address import generate_contract_address
from eth_abi import encode
from eth_typing import Address
from eth_utils import keccak, to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sidechain.errors import InvalidTransaction
from sidechain.executor.abc import BlockResult
from sidechain.executor.counters import CounterSlot
from sidechain.executor.parallel import ParallelExecutor, WorkersKeepDying, _BlockRun
from sidechain.executor.sequential import SequentialExecutor
from sidechain.executor.state_root import TrieTask
from sidechain.executor.workloads import (
    ERC20_GAS,
    HOT_ADDRESS,
    WorkloadChain,
    block_gas_limit,
    receiver,
)
from sidechain.genesis import DevAccount
from sidechain.predeploys import USDT_ADDRESS
from sidechain.system_tx import ASSET_BTC, ASSET_USDT, BlockTransaction
from sidechain.vm import SluiceVM
from tests.sidechain.executor import same_result
from tests.sidechain.executor.same_result import address_of, compiled, parallel_executor

pytestmark = [
    pytest.mark.filterwarnings("ignore:SELFDESTRUCT opcode:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:`selfdestruct` is deprecated"),
]
SENDERS = 160
USDT_FUNDING = 10**12
COUNTER_SOURCE = """# pragma version 0.4.3
# pragma evm-version cancun
count: public(uint256)
scratch: transient(uint256)

@external
def bump(by: uint256):
    self.scratch += by
    self.count += self.scratch

@external
def bump_then_revert(by: uint256):
    self.scratch += by
    self.count += self.scratch
    raise "undone"

@external
def boom(to: address):
    selfdestruct(to)
"""
COUNTER_SLOT = 0


class Blocks:
    """Transactions of every kind on one dev chain whose head is the pre-state of each block."""

    def __init__(self, chain: WorkloadChain, counter_code: bytes) -> None:
        self.chain = chain
        self.counter_code = counter_code
        self.deployer = chain.accounts[-1]
        self.chainer = chain.accounts[-2]
        self.counter = Address(generate_contract_address(address_of(self.deployer), 0))
        self.deposit_index = 10**6

    def sender(self, index: int) -> DevAccount:
        return self.chain.accounts[index]

    def transfer(
        self, index: int, to: Address, amount: int = 1, nonce: int = 0
    ) -> BlockTransaction:
        return self.chain.user_tx(self.sender(index), "transfers", nonce, to, amount)

    def erc20(
        self, index: int, to: Address, amount: int = 1, gas: int = ERC20_GAS
    ) -> BlockTransaction:
        data = keccak(text="transfer(address,uint256)")[:4] + encode(
            ["address", "uint256"], [to_checksum_address(to), amount]
        )
        return self.call(index, USDT_ADDRESS, data, gas)

    def bump(
        self,
        index: int,
        by: int,
        counter: Address | None = None,
        function: str = "bump",
        gas: int = 100_000,
    ) -> BlockTransaction:
        """`counter.function(by)` (default: the counter deployed before the block)."""
        data = keccak(text=f"{function}(uint256)")[:4] + encode(["uint256"], [by])
        return self.call(index, counter or self.counter, data, gas)

    def boom(self, index: int) -> BlockTransaction:
        data = keccak(text="boom(address)")[:4] + encode(
            ["address"], [to_checksum_address(HOT_ADDRESS)]
        )
        return self.call(index, self.counter, data, 100_000)

    def create(self, index: int, nonce: int = 0) -> BlockTransaction:
        return self.chain.sign(
            self.sender(index), {**self._fields(nonce), "data": self.counter_code, "gas": 400_000}
        )

    def create_and_destroy(self, index: int) -> BlockTransaction:
        """A creation whose init code self-destructs (the account is deleted, EIP-6780)."""
        init = b"\x73" + HOT_ADDRESS + b"\xff"  # PUSH20 HOT_ADDRESS, SELFDESTRUCT
        return self.chain.sign(
            self.sender(index), {**self._fields(0), "data": init, "gas": 100_000, "value": 9}
        )

    def call(
        self, index: int, to: Address, data: bytes, gas: int, nonce: int = 0
    ) -> BlockTransaction:
        fields = {**self._fields(nonce), "to": to_checksum_address(to), "data": data, "gas": gas}
        return self.chain.sign(self.sender(index), fields)

    def chained(self, count: int) -> list[BlockTransaction]:
        """Transfers from one sender: each depends on the one before (its nonce)."""
        return [
            self.chain.user_tx(self.chainer, "transfers", nonce, receiver(50_000 + nonce), 1)
            for nonce in range(count)
        ]

    def deposit(self, asset: int, amount: int, recipient: Address) -> BlockTransaction:
        self.deposit_index += 1
        return self.chain.deposit(self.deposit_index, asset, amount, recipient)

    def _fields(self, nonce: int) -> dict[str, object]:
        base = self.chain.next_header().base_fee_per_gas
        return {
            "chainId": self.chain.chain_id,
            "nonce": nonce,
            "value": 0,
            "maxFeePerGas": 2 * base + 10**8,
            "maxPriorityFeePerGas": 10**8,
            "type": 2,
        }


@pytest.fixture(scope="module")
def blocks() -> Iterator[Blocks]:
    code = compiled(COUNTER_SOURCE)
    with tempfile.TemporaryDirectory(prefix="sluice-parallel-") as tmp:
        chain = WorkloadChain(
            Path(tmp) / "chain", SENDERS, block_gas_limit(SENDERS * 3), lambda n: None
        )
        made = Blocks(chain, code)
        setup = [
            chain.deposit(i, ASSET_USDT, USDT_FUNDING, address_of(account))
            for i, account in enumerate(chain.accounts[: SENDERS - 2])
        ]
        setup.append(made.create(SENDERS - 1))
        chain.commit(tuple(setup))
        yield made
        chain.close()


@pytest.fixture(scope="module")
def parallel(blocks: Blocks) -> Iterator[ParallelExecutor]:
    with parallel_executor(blocks.chain, [CounterSlot(blocks.counter, COUNTER_SLOT)]) as executor:
        yield executor


def run_both(
    blocks: Blocks, parallel: ParallelExecutor, txs: list[BlockTransaction]
) -> BlockResult:
    """Execute `txs` on the chain head with both executors; assert equal results."""
    return same_result.run_both(blocks.chain, parallel, txs)


def test_native_transfers_match_sequential(blocks: Blocks, parallel: ParallelExecutor) -> None:
    run_both(blocks, parallel, [blocks.transfer(i, receiver(i), 1 + i) for i in range(120)])


def test_erc20_transfers_match_sequential(blocks: Blocks, parallel: ParallelExecutor) -> None:
    result = run_both(blocks, parallel, [blocks.erc20(i, receiver(i), 1 + i) for i in range(120)])
    assert all(len(r.receipt.logs) == 1 for r in result.results)


def test_hot_account_matches_sequential(blocks: Blocks, parallel: ParallelExecutor) -> None:
    txs = [
        blocks.transfer(i, HOT_ADDRESS, 7)
        if i % 3 == 0
        else blocks.erc20(i, address_of(blocks.sender(0)))
        for i in range(1, 100)
    ]
    run_both(blocks, parallel, txs)


def test_dependency_chain_matches_sequential(blocks: Blocks, parallel: ParallelExecutor) -> None:
    """Speculation stops once most of it fails; the chain runs in the coordinator, with a
    probe now and then. (How many ran in the workers before it stopped depends on how far
    ahead they got, so on the machine's load: 312 of 400 was seen under load.)"""
    txs = blocks.chained(400)
    run_both(blocks, parallel, txs)
    assert parallel.stats().speculated < len(txs)


def test_reverts_and_out_of_gas_match_sequential(
    blocks: Blocks, parallel: ParallelExecutor
) -> None:
    txs = []
    for i in range(90):
        if i % 3 == 0:
            txs.append(blocks.erc20(i, receiver(i), USDT_FUNDING + 1))  # more than it has: revert
        elif i % 3 == 1:
            txs.append(blocks.erc20(i, receiver(i), 1, gas=30_000))  # out of gas
        else:
            txs.append(blocks.erc20(i, receiver(i), 5))
    result = run_both(blocks, parallel, txs)
    assert sum(r.error is not None for r in result.results) == 60


def test_creation_self_destruct_and_counter_match_sequential(
    blocks: Blocks, parallel: ParallelExecutor
) -> None:
    txs = [blocks.create(i) if i % 4 == 0 else blocks.bump(i, i) for i in range(80)]
    txs += [blocks.boom(81), blocks.create_and_destroy(82)]
    result = run_both(blocks, parallel, txs)
    assert all(r.contract_address for r in result.results[:80:4])
    assert all(r.error is None for r in result.results)


def test_counter_slot_bumps_merge_without_reexecution(
    blocks: Blocks, parallel: ParallelExecutor
) -> None:
    run_both(blocks, parallel, [blocks.bump(i, 1 + i % 5) for i in range(80)])
    # at most the first bump a worker ran on the counter still at zero: from zero, SSTORE
    # costs other gas, so that one cannot be rebased
    assert parallel.stats().reexecutions <= 1


def test_deposits_match_sequential(blocks: Blocks, parallel: ParallelExecutor) -> None:
    txs = [
        blocks.deposit(ASSET_BTC if i % 2 else ASSET_USDT, 1_000 + i, receiver(10_000 + i))
        for i in range(70)
    ]
    result = run_both(blocks, parallel, txs)
    assert all(r.fee == 0 and r.error is None for r in result.results)


def test_invalid_transaction_fails_the_block_and_the_next_block_is_right(
    blocks: Blocks, parallel: ParallelExecutor
) -> None:
    txs = [blocks.transfer(i, receiver(i)) for i in range(30)]
    txs.append(blocks.transfer(5, receiver(5), nonce=7))  # a nonce gap
    chain = blocks.chain
    with chain.store.reading() as snapshot, pytest.raises(InvalidTransaction):
        parallel.execute_block(chain.pre_state(snapshot), chain.next_header(), tuple(txs))
    # what the workers still send about the failed block does not leak into the next one
    run_both(blocks, parallel, [blocks.erc20(i, receiver(i), 3) for i in range(100)])


def test_creation_with_initcode_above_the_limit_makes_the_block_invalid(
    blocks: Blocks, parallel: ParallelExecutor
) -> None:
    """EIP-3860: such a transaction cannot be included (py-evm raises OutOfGas instead)."""
    too_long = blocks.chain.sign(
        blocks.sender(40), {**blocks._fields(0), "data": bytes(49_153), "gas": 400_000}
    )
    txs = (*(blocks.transfer(i, receiver(i)) for i in range(12)), too_long)
    chain = blocks.chain
    with chain.store.reading() as snapshot:
        pre = chain.pre_state(snapshot)
        for executor in (SequentialExecutor(chain.chain_id), parallel):
            with pytest.raises(InvalidTransaction, match="EIP-3860"):
                executor.execute_block(pre, chain.next_header(), txs)


def test_worker_killed_mid_block_still_gives_the_right_result(
    blocks: Blocks, parallel: ParallelExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    receive = _BlockRun._receive
    killed: list[int] = []

    def kill_then_receive(run: _BlockRun) -> None:
        if not killed:
            killed.append(run.pool.procs[0].pid)  # type: ignore[arg-type]
            os.kill(killed[0], signal.SIGKILL)
        receive(run)

    monkeypatch.setattr(_BlockRun, "_receive", kill_then_receive)
    run_both(blocks, parallel, [blocks.erc20(i, receiver(i), 2) for i in range(150)])
    assert killed and parallel.pool.procs[0].pid != killed[0]
    assert all(process.is_alive() for process in parallel.pool.procs)


def test_worker_killed_during_the_state_root_still_gives_the_right_result(
    blocks: Blocks, parallel: ParallelExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    send_trie = _BlockRun._send_trie
    killed: list[int] = []

    def kill_then_send(run: _BlockRun, index: int, tasks: list[TrieTask]) -> bool:
        if not killed:
            killed.append(run.pool.procs[index].pid)  # type: ignore[arg-type]
            os.kill(killed[0], signal.SIGKILL)
            run.pool.procs[index].join()
        return send_trie(run, index, tasks)

    monkeypatch.setattr(_BlockRun, "_send_trie", kill_then_send)
    run_both(blocks, parallel, [blocks.erc20(i, receiver(i), 4) for i in range(150)])
    assert killed and killed[0] not in [process.pid for process in parallel.pool.procs]


def test_worker_dead_before_a_block_is_replaced(blocks: Blocks, parallel: ParallelExecutor) -> None:
    dead = parallel.pool.procs[1]
    os.kill(dead.pid, signal.SIGKILL)  # type: ignore[arg-type]
    dead.join()
    run_both(blocks, parallel, [blocks.transfer(i, receiver(i), 5) for i in range(100)])
    assert parallel.pool.procs[1] is not dead and parallel.pool.procs[1].is_alive()


def test_workers_that_keep_dying_fail_the_block_cleanly(blocks: Blocks, tmp_path: Path) -> None:
    """Workers given a store without the pre-state die on every block message: the block
    fails with an error, it never completes with a wrong root."""
    executor = ParallelExecutor(
        blocks.chain.chain_id, workers=1, store_path=tmp_path / "other", min_parallel_txs=8
    )
    chain = blocks.chain
    txs = tuple(blocks.transfer(i, receiver(i)) for i in range(40))
    with chain.store.reading() as snapshot, pytest.raises(WorkersKeepDying):
        executor.execute_block(chain.pre_state(snapshot), chain.next_header(), txs)
    executor.close()


def test_close_stops_the_workers(blocks: Blocks) -> None:
    executor = ParallelExecutor(blocks.chain.chain_id, workers=2, store_path=blocks.chain.path)
    processes = list(executor.pool.procs)
    executor.close()
    assert processes and not any(process.is_alive() for process in processes)


def test_workers_start_with_the_first_block_that_needs_them(blocks: Blocks) -> None:
    """A node opens its executor at start; only a block large enough to run in parallel
    starts the worker processes."""
    before = set(multiprocessing.active_children())
    executor = ParallelExecutor(blocks.chain.chain_id, workers=2, store_path=blocks.chain.path)
    chain = blocks.chain
    small = tuple(blocks.transfer(i, receiver(i)) for i in range(10))
    with chain.store.reading() as snapshot:
        executor.execute_block(chain.pre_state(snapshot), chain.next_header(), small)
    assert set(multiprocessing.active_children()) == before
    large = tuple(blocks.transfer(i, receiver(i)) for i in range(70))
    run_both(blocks, executor, list(large))
    started = set(multiprocessing.active_children()) - before
    assert len(started) == 2
    executor.close()
    assert not any(process.is_alive() for process in started)


def test_small_block_runs_sequentially(blocks: Blocks) -> None:
    executor = ParallelExecutor(blocks.chain.chain_id, store_path=blocks.chain.path)
    small = tuple(blocks.transfer(i, receiver(i)) for i in range(63))
    assert not executor.runs_in_parallel(SluiceVM, small)
    assert executor.runs_in_parallel(SluiceVM, (*small, blocks.transfer(63, receiver(63))))
    chain = blocks.chain
    with chain.store.reading() as snapshot:
        pre = chain.pre_state(snapshot)
        got = executor.execute_block(pre, chain.next_header(), small)
        expected = SequentialExecutor(chain.chain_id).execute_block(pre, chain.next_header(), small)
    assert got.state_root == expected.state_root
    executor.close()


_KINDS = (
    "transfer",
    "hot",
    "erc20",
    "revert",
    "out_of_gas",
    "deposit",
    "create",
    "create_and_destroy",
    "bump",
    "boom",
    "chain",
    # read-after-write within the block: each reads what an earlier transaction wrote
    "erc20_to_next",  # the next transaction's sender receives USDT, then sends it on
    "transfer_to_next",  # the next sender receives coin, then pays its gas from it
    "usdt_deposit_to_next",  # a USDT deposit (mint) to the next sender, who then sends USDT
    "call_created",  # bumps the counter that the last "create" of this block deployed
    "bump_revert",  # transient and persistent writes, then a revert
    "bump_out_of_gas",  # transient write, then out of gas at the SSTORE
    "touch_destroyed",  # pays the account the last "create_and_destroy" deleted
)
_BUMP_OOG_GAS = 26_000  # enough for TSTORE, not for the cold SSTORE after it


def _random_block(blocks: Blocks, kinds: list[str]) -> list[BlockTransaction]:
    """One transaction per kind, the i-th sent by sender i; kinds that depend on an earlier
    transaction of the block use the newest such one (or the pre-block counter)."""
    chained = iter(blocks.chained(len(kinds)))
    created: Address | None = None
    destroyed: Address = HOT_ADDRESS
    txs = []
    for i, kind in enumerate(kinds):
        to = receiver(20_000 + i)
        after = address_of(blocks.sender(i + 1))
        if kind in ("create", "create_and_destroy"):
            new = Address(generate_contract_address(address_of(blocks.sender(i)), 0))
            created, destroyed = (new, destroyed) if kind == "create" else (created, new)
        txs.append(
            {
                "transfer": lambda i=i, to=to: blocks.transfer(i, to, 3),
                "hot": lambda i=i: blocks.transfer(i, HOT_ADDRESS, 3),
                "erc20": lambda i=i, to=to: blocks.erc20(i, to, 3),
                "revert": lambda i=i, to=to: blocks.erc20(i, to, USDT_FUNDING + 1),
                "out_of_gas": lambda i=i, to=to: blocks.erc20(i, to, 1, gas=30_000),
                "deposit": lambda to=to: blocks.deposit(ASSET_BTC, 500, to),
                "create": lambda i=i: blocks.create(i),
                "create_and_destroy": lambda i=i: blocks.create_and_destroy(i),
                "bump": lambda i=i: blocks.bump(i, 1 + i % 3),
                "boom": lambda i=i: blocks.boom(i),
                "chain": lambda: next(chained),
                "erc20_to_next": lambda i=i, after=after: blocks.erc20(i, after, USDT_FUNDING // 2),
                "transfer_to_next": lambda i=i, after=after: blocks.transfer(i, after, 10**15),
                "usdt_deposit_to_next": lambda after=after: blocks.deposit(ASSET_USDT, 7, after),
                "call_created": lambda i=i, at=created: blocks.bump(i, 2, counter=at),
                "bump_revert": lambda i=i: blocks.bump(i, 5, function="bump_then_revert"),
                "bump_out_of_gas": lambda i=i: blocks.bump(i, 4, gas=_BUMP_OOG_GAS),
                "touch_destroyed": lambda i=i, at=destroyed: blocks.transfer(i, at, 11),
            }[kind]()
        )
    return txs


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from(_KINDS), min_size=8, max_size=90))
def test_random_mixed_blocks_match_sequential(
    blocks: Blocks, parallel: ParallelExecutor, kinds: list[str]
) -> None:
    """State root, every receipt (status, cumulative gas, logs), gas and fees are equal."""
    run_both(blocks, parallel, _random_block(blocks, kinds))


def test_call_with_too_short_a_stack_fails_in_the_evm_in_both(
    blocks: Blocks, parallel: ParallelExecutor
) -> None:
    """A contract whose code is a lone CALL underflows the stack: the EVM's error, the same in
    both executors (the parallel one peeks at CALL's value operand first)."""
    lone_call = bytes.fromhex("60f160005360016000f3")  # deploys the 1-byte runtime 0xf1
    created = Address(generate_contract_address(address_of(blocks.sender(0)), 0))
    txs = [
        blocks.chain.sign(
            blocks.sender(0), {**blocks._fields(0), "data": lone_call, "gas": 100_000}
        ),
        *(blocks.call(i, created, b"", 50_000) for i in range(1, 12)),
    ]
    result = run_both(blocks, parallel, txs)
    assert all("InsufficientStack" in (r.error or "") for r in result.results[1:])


def test_read_after_write_in_one_block_matches_sequential(
    blocks: Blocks, parallel: ParallelExecutor
) -> None:
    """Every dependent kind, each right after what it depends on, several times over: the
    workers speculate on stale values, validation catches each, re-execution fixes it."""
    kinds = [
        "erc20_to_next",
        "erc20",
        "transfer_to_next",
        "erc20",
        "usdt_deposit_to_next",
        "erc20",
        "create",
        "call_created",
        "bump_revert",
        "bump_out_of_gas",
        "bump",
        "create_and_destroy",
        "touch_destroyed",
    ] * 6
    result = run_both(blocks, parallel, _random_block(blocks, kinds))
    errors = [r.error for r in result.results]
    assert sum("Revert" in (e or "") for e in errors) == 6
    assert sum("OutOfGas" in (e or "") for e in errors) == 6
    assert parallel.stats().reexecutions > 0
