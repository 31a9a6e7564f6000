"""Counters under contention: a transaction that derives other state or a branch from a counter
it also writes gives, in parallel, exactly the sequential result."""

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth._utils.address import generate_contract_address
from eth_abi import encode
from eth_typing import Address
from eth_utils import keccak, to_checksum_address

from sidechain.executor.abc import BlockResult
from sidechain.executor.counters import WORD, CounterSlot, sluice_counter_slots
from sidechain.executor.parallel import ParallelExecutor
from sidechain.executor.workloads import WorkloadChain, block_gas_limit, receiver
from sidechain.predeploys import BRIDGE_ADDRESS, USDT_ADDRESS
from sidechain.system_tx import ASSET_USDT, BlockTransaction
from tests.sidechain.executor.same_result import (
    address_of,
    compiled,
    parallel_executor,
    run_both,
)

SENDERS = 100
TALLY_SOURCE = """# pragma version 0.4.3
count: public(uint256)
seen: public(HashMap[address, uint256])

@external
def bump(by: uint256):
    self.count += by

@external
def copy_then_bump(by: uint256):
    self.seen[msg.sender] = self.count + 7
    self.count += by

@external
def bump_below(limit: uint256, by: uint256):
    if self.count < limit:
        self.count += by

@external
def set_count(count: uint256):
    self.count = count
"""
PROBE_SOURCE = """# pragma version 0.4.3
interface IUSDT:
    def totalSupply() -> uint256: view

interface IBridge:
    def withdraw(asset: uint8, amount: uint256, bitcoin_address: String[90]) -> uint256: nonpayable

seen_supply: public(uint256)

@external
def snapshot_then_withdraw(amount: uint256):
    self.seen_supply = staticcall IUSDT(USDT).totalSupply()
    extcall IBridge(BRIDGE).withdraw(ASSET_USDT, amount, "bcrt1qsluiceprobe0000")
"""
PROBE_USDT = 10**9


def _calldata(signature: str, args: list[object]) -> bytes:
    types = signature[signature.index("(") + 1 : -1].split(",")
    return keccak(text=signature)[:4] + encode(types, args)


class Chain:
    """A dev chain with the Tally contract (a counter and a slot derived from it) and the
    Probe contract (snapshots USDT's total supply, then burns its USDT through the Bridge)."""

    def __init__(self, chain: WorkloadChain) -> None:
        self.chain = chain
        self.deployer = chain.accounts[-1]
        origin = address_of(self.deployer)
        self.tally = Address(generate_contract_address(origin, 0))
        self.probe = Address(generate_contract_address(origin, 1))
        self.deposits = 0
        self.nonces = [0] * len(chain.accounts)

    def call(self, index: int, to: Address, data: bytes, gas: int = 500_000) -> BlockTransaction:
        self.nonces[index] += 1
        sender = self.chain.accounts[index]
        return self.chain.call(sender, self.nonces[index] - 1, to, data, gas=gas)

    def tally_call(self, index: int, signature: str, *args: int) -> BlockTransaction:
        return self.call(index, self.tally, _calldata(signature, list(args)))

    def usdt_deposit(self, recipient: Address, amount: int) -> BlockTransaction:
        self.deposits += 1
        return self.chain.deposit(self.deposits, ASSET_USDT, amount, recipient)

    def run_both(self, parallel: ParallelExecutor, txs: list[BlockTransaction]) -> BlockResult:
        """Execute `txs` with both executors, assert equal results, commit the block."""
        result = run_both(self.chain, parallel, txs)
        self.chain.commit(tuple(txs), all_succeed=False)
        return result


@pytest.fixture(scope="module")
def chain() -> Iterator[Chain]:
    with tempfile.TemporaryDirectory(prefix="sluice-counters-") as tmp:
        workload = WorkloadChain(
            Path(tmp) / "chain", SENDERS, block_gas_limit(SENDERS), lambda built: None
        )
        made = Chain(workload)
        probe = PROBE_SOURCE.replace("USDT)", f"{to_checksum_address(USDT_ADDRESS)})")
        probe = probe.replace("BRIDGE)", f"{to_checksum_address(BRIDGE_ADDRESS)})")
        probe = probe.replace("ASSET_USDT,", f"{ASSET_USDT},")
        workload.commit(
            (
                made.chain.call(made.deployer, 0, Address(b""), compiled(TALLY_SOURCE)),
                made.chain.call(made.deployer, 1, Address(b""), compiled(probe), gas=2_000_000),
                made.usdt_deposit(made.probe, PROBE_USDT),
            )
        )
        yield made
        workload.close()


@pytest.fixture(scope="module")
def parallel(chain: Chain) -> Iterator[ParallelExecutor]:
    counters = [CounterSlot(chain.tally, 0), *sluice_counter_slots()]
    with parallel_executor(chain.chain, counters) as executor:
        yield executor


def test_a_slot_derived_from_the_counter_is_what_sequential_stores(
    chain: Chain, parallel: ParallelExecutor
) -> None:
    """Each transaction stores `count + 7` in a slot of its sender, then bumps `count`: the
    copy escapes the shift, so every stale read is re-executed (none may be rebased)."""
    txs = [chain.tally_call(i, "copy_then_bump(uint256)", 1 + i % 3) for i in range(60)]
    chain.run_both(parallel, txs)
    assert parallel.stats().reexecutions > 0


def test_a_branch_on_the_counter_flips_where_sequential_flips_it(
    chain: Chain, parallel: ParallelExecutor
) -> None:
    """`if count < 40: count += 1`: the first 39 bump, the rest do not."""
    chain.chain.commit((chain.tally_call(0, "set_count(uint256)", 1),))
    txs = [chain.tally_call(1 + i, "bump_below(uint256,uint256)", 40, 1) for i in range(80)]
    chain.run_both(parallel, txs)


def test_an_overflow_revert_flips_where_sequential_flips_it(
    chain: Chain, parallel: ParallelExecutor
) -> None:
    """From 2**256 - 100, bumps of 3: the 34th overflows and reverts, and every one after."""
    chain.chain.commit((chain.tally_call(0, "set_count(uint256)", WORD - 100),))
    txs = [chain.tally_call(1 + i, "bump(uint256)", 3) for i in range(60)]
    result = chain.run_both(parallel, txs)
    assert [r.error is None for r in result.results] == [i < 33 for i in range(60)]


def test_a_total_supply_read_before_a_burn_is_what_sequential_reads(
    chain: Chain, parallel: ParallelExecutor
) -> None:
    """USDT mints to accounts of the Probe's supply shard run beside the Probe, which stores
    `totalSupply()` (the sum of the shards) and then burns from its own shard."""
    shard = chain.probe[-1:]
    mates = [Address(receiver(i)[:19] + shard) for i in range(40)]
    txs = [chain.usdt_deposit(mate, 1_000 + i) for i, mate in enumerate(mates)]
    snapshot = _calldata("snapshot_then_withdraw(uint256)", [10**6])
    txs.insert(10, chain.call(0, chain.probe, snapshot, gas=2_000_000))  # 256 cold shard reads
    result = chain.run_both(parallel, txs)
    assert result.results[10].error is None
