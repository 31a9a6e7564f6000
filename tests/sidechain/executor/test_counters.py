"""Counter slots shift at commit only where every recorded check keeps its outcome, and a
worker's EVM tracks counter values so that every other use makes the counter exact."""

import dataclasses
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth._utils.address import generate_contract_address
from eth.vm import opcode_values
from eth.vm.logic import comparison
from eth_typing import Address
from eth_utils import to_canonical_address
from hypothesis import given
from hypothesis import strategies as st
from vyper.compiler import compile_from_file_input
from vyper.compiler.input_bundle import FilesystemInputBundle

from sidechain.contracts.artifacts import CONTRACTS_DIR, source_path
from sidechain.executor.counter_tracking import Tracked
from sidechain.executor.counters import (
    EQ,
    GT,
    LT,
    SGT,
    SLT,
    WORD,
    compare,
    rebased,
    usdt_supply_shards,
)
from sidechain.executor.mvstate import SLOT, TrieReader, TxAccess, TxWrites, View
from sidechain.executor.runner import TxRunner
from sidechain.executor.sequential import SequentialExecutor
from sidechain.executor.workloads import WorkloadChain, block_gas_limit
from sidechain.predeploys import USDT_ADDRESS

CONTRACT = Address(b"\x42" * 20)
KEY = (SLOT, CONTRACT, 0)


def _access(read: int, write: int | None, checks=(), tracked_write: bool = True) -> TxAccess:
    writes = {} if write is None else {KEY: write}
    return TxAccess(
        (),
        {},
        TxWrites(writes, {}, {}),
        {KEY: read},
        tuple(checks),
        frozenset([KEY] if tracked_write and write is not None else []),
    )


def _rebase(access: TxAccess, current: int) -> int | tuple | None:
    result = rebased(access, lambda key: current)
    return result.writes.get(KEY) if isinstance(result, TxWrites) else result


def _sstore_checks(original: int, new: int, key: tuple = KEY) -> list:
    """The checks a worker records for `count = original + k` (SSTORE's gas tests)."""
    o, c, n = (key, original), (key, original), (key, new)
    return [
        (EQ, c, n, original == new),
        (EQ, o, c, True),
        (EQ, o, n, original == new),
        (EQ, o, 0, original == 0),
        (EQ, c, 0, original == 0),
        (EQ, n, 0, new == 0),
    ]


def test_an_increment_moves_by_the_committed_difference() -> None:
    assert _rebase(_access(5, 8, _sstore_checks(5, 8)), current=7) == 10


def test_a_write_whose_zero_test_would_change_is_re_executed() -> None:
    # from zero SSTORE costs 20,000 gas, from non-zero 2,900: the check EQ(original, 0) flips
    assert _rebase(_access(0, 4, _sstore_checks(0, 4)), current=6) == KEY
    # count -= 5 down to 0 refunds; on 7 it would end at 2
    assert _rebase(_access(5, 0, _sstore_checks(5, 0)), current=7) == KEY


def test_an_overflow_check_that_would_flip_is_re_executed() -> None:
    # Vyper's checked `count + 10`: LT(sum, count) must stay false (no wrap past 2**256)
    read = WORD - 20
    checks = [(LT, (KEY, read + 10), (KEY, read), False)]
    assert _rebase(_access(read, read + 10, checks), current=read - 5) == read + 5
    assert _rebase(_access(read, read + 10, checks), current=read + 15) == KEY


def test_signed_checks_compare_as_int256() -> None:
    minus_two = WORD - 2
    # int256 shard -2 + 5: Vyper's overflow test SLT(sum, shard) == SLT(5, 0) holds while no wrap
    checks = [(SLT, (KEY, 3), (KEY, minus_two), False)]
    assert _rebase(_access(minus_two, 3, checks), current=10) == 15
    assert _rebase(_access(minus_two, 3, checks), current=2**255 - 3) == KEY  # int256 overflow
    assert compare(SGT, 1, WORD - 1) and not compare(GT, 1, WORD - 1)


def test_a_branch_on_the_counter_that_would_flip_is_re_executed() -> None:
    # `if count < 50: count += 1` on 40: the branch holds at 45, not at 50
    checks = [(LT, (KEY, 40), 50, True)]
    assert _rebase(_access(40, 41, checks), current=45) == 46
    assert _rebase(_access(40, 41, checks), current=50) == KEY


def test_a_plain_write_stays_and_a_read_only_counter_needs_its_checks_only() -> None:
    # `count = 3` after `assert count != 0`: the write does not move, the check must hold
    checks = [(EQ, (KEY, 9), 0, False)]
    assert _rebase(_access(9, 3, checks, tracked_write=False), current=12) == 3
    assert _rebase(_access(9, 3, checks, tracked_write=False), current=0) == KEY
    read_only = _access(9, None, checks)
    assert rebased(read_only, lambda key: 12) == read_only.changes


@given(st.sampled_from([LT, GT, SLT, SGT, EQ]), st.integers(0, WORD - 1), st.integers(0, WORD - 1))
def test_compare_is_the_evm_comparison(op: int, left: int, right: int) -> None:
    logic = {LT: comparison.lt, GT: comparison.gt, SLT: comparison.slt, SGT: comparison.sgt}
    logic[EQ] = comparison.eq

    class Computation:
        def __init__(self) -> None:
            self.stack = [right, left]

        def stack_pop_ints(self, count: int) -> tuple[int, ...]:
            return tuple(self.stack.pop() for _ in range(count))

        def stack_push_int(self, value: int) -> None:
            self.stack.append(value)

    computation = Computation()
    logic[op](computation)
    assert compare(op, left, right) == bool(computation.stack[0])


def test_every_int_method_of_a_tracked_word_escapes() -> None:
    escaped: set = set()
    for use in (
        lambda t: t * 2,
        lambda t: t + 1,
        lambda t: 1 - t,
        lambda t: t & 0xFF,
        lambda t: t < 3,
        lambda t: t == 5,
        lambda t: bool(t),
        lambda t: hash(t),
        lambda t: f"{t}",
        lambda t: t.to_bytes(32, "big"),
        lambda t: t.bit_length(),
        lambda t: int(t),
        lambda t: t.__index__(),
        lambda t: t.real,
        lambda t: __import__("pickle").dumps(t),
    ):
        escaped.clear()
        use(Tracked.of(5, KEY, escaped))
        assert escaped == {KEY}


# A worker's EVM over raw contracts that load their counter (slot 0, 5 at deployment) and use
# it one way each: (name, runtime code, whether the counter may still shift).
_USES = [
    ("add_and_store_back", "PUSH1 1 PUSH1 0 SLOAD ADD PUSH1 0 SSTORE", True),
    ("sub_and_store_back", "PUSH1 1 PUSH1 0 SLOAD SUB PUSH1 0 SSTORE", True),
    ("branch_on_it", "PUSH1 0 SLOAD PUSH1 6 JUMPI JUMPDEST STOP", True),
    ("compare_it", "PUSH1 9 PUSH1 0 SLOAD LT PUSH1 3 PUSH1 0 SLOAD SGT ISZERO POP POP", True),
    ("dup_swap_pop_it", "PUSH1 0 SLOAD DUP1 PUSH1 7 SWAP1 POP POP POP", True),
    ("multiply_it", "PUSH1 2 PUSH1 0 SLOAD MUL POP", False),
    ("divide_it", "PUSH1 2 PUSH1 0 SLOAD DIV POP", False),
    ("mask_it", "PUSH1 255 PUSH1 0 SLOAD AND POP", False),
    ("shift_it", "PUSH1 0 SLOAD PUSH1 1 SHL POP", False),
    ("store_it_in_memory", "PUSH1 0 SLOAD PUSH1 0 MSTORE", False),
    ("log_it_as_a_topic", "PUSH1 0 SLOAD PUSH1 0 PUSH1 0 LOG1", False),
    ("return_that_many_bytes", "PUSH1 0 SLOAD PUSH1 0 RETURN", False),
    ("store_it_in_another_slot", "PUSH1 0 SLOAD PUSH1 1 SSTORE", False),
    ("store_it_in_transient_storage", "PUSH1 0 SLOAD PUSH1 1 TSTORE", False),
    ("add_it_to_itself", "PUSH1 0 SLOAD DUP1 ADD PUSH1 0 SSTORE", False),
    ("subtract_it_from_a_plain_value", "PUSH1 0 SLOAD PUSH1 9 SUB PUSH1 0 SSTORE", False),
    ("load_the_slot_it_names", "PUSH1 0 SLOAD SLOAD POP", False),
    ("jump_to_it", "PUSH1 0 SLOAD JUMP", False),
    ("send_it_as_call_value", "PUSH1 0 DUP1 DUP1 DUP1 PUSH1 0 SLOAD PUSH1 9 GAS CALL POP", False),
    ("hash_it", "PUSH1 0 SLOAD PUSH1 0 MSTORE PUSH1 32 PUSH1 0 SHA3 POP", False),
]


def _assemble(source: str) -> bytes:
    code = b""
    for word in source.split():
        code += bytes([int(word)]) if word.isdigit() else bytes([getattr(opcode_values, word)])
    return code


def _deployment(runtime: bytes, counter: int) -> bytes:
    """Init code storing `counter` in slot 0 and returning `runtime` (which follows it)."""

    def init(offset: int) -> bytes:
        size = len(runtime)
        copy = f"PUSH1 {size} PUSH1 {offset} PUSH1 0 CODECOPY PUSH1 {size} PUSH1 0 RETURN"
        return _assemble(f"PUSH1 {counter} PUSH1 0 SSTORE {copy}")

    return init(len(init(0))) + runtime


@pytest.fixture(scope="module")
def uses() -> Iterator[tuple[WorkloadChain, dict[str, Address]]]:
    with tempfile.TemporaryDirectory(prefix="sluice-counters-") as tmp:
        chain = WorkloadChain(
            Path(tmp) / "chain", len(_USES) + 1, block_gas_limit(40), lambda built: None
        )
        deployer = chain.accounts[-1]
        creations = tuple(
            chain.call(deployer, nonce, Address(b""), _deployment(_assemble(code), 5), gas=200_000)
            for nonce, (_, code, _) in enumerate(_USES)
        )
        chain.commit(creations)
        origin = to_canonical_address(deployer.address)
        addresses = {
            name: Address(generate_contract_address(origin, nonce))
            for nonce, (name, _, _) in enumerate(_USES)
        }
        yield chain, addresses
        chain.close()


def _run(uses: tuple[WorkloadChain, dict[str, Address]], name: str) -> tuple[TxAccess, TxRunner]:
    """Call contract `name` in a worker's runner (tracking every contract's counter)."""
    chain, addresses = uses
    index = [use[0] for use in _USES].index(name)
    tx = chain.call(chain.accounts[index], 0, addresses[name], b"", gas=100_000)
    with chain.store.reading() as snapshot:
        pre = chain.pre_state(snapshot)
        env = SequentialExecutor(chain.chain_id).block_env(pre, chain.next_header())
        counters = frozenset((SLOT, address, 0) for address in addresses.values())
        env = dataclasses.replace(env, counter_slots=counters)
        runner = TxRunner(env, View(TrieReader(pre.db, pre.state_root)), tracks_counters=True)
        _, access = runner.apply(tx, 0)
    return access, runner


@pytest.mark.parametrize(("name", "shifts"), [(name, shifts) for name, _, shifts in _USES])
def test_a_worker_tracks_what_its_transaction_does_with_a_counter(
    uses: tuple[WorkloadChain, dict[str, Address]], name: str, shifts: bool
) -> None:
    access, runner = _run(uses, name)
    key = (SLOT, uses[1][name], 0)
    if shifts:
        assert access.counter_reads == {key: 5} and key not in access.reads
    else:
        assert access.reads[key] == 5 and key not in access.counter_reads
    assert not runner.state.computation_class.counter_opcodes.engaged  # released at the end
    writes = access.changes.writes
    assert all(type(writes[key]) is int for key in writes if key[0] == SLOT)  # picklable, plain


def test_comparisons_and_conditions_on_a_counter_are_recorded_with_their_outcome(
    uses: tuple[WorkloadChain, dict[str, Address]],
) -> None:
    compared, _ = _run(uses, "compare_it")
    key = (SLOT, uses[1]["compare_it"], 0)
    assert compared.counter_checks == ((LT, (key, 5), 9, True), (SGT, (key, 5), 3, True))
    branched, _ = _run(uses, "branch_on_it")
    key = (SLOT, uses[1]["branch_on_it"], 0)
    assert branched.counter_checks == ((EQ, (key, 5), 0, False),)
    stored, _ = _run(uses, "add_and_store_back")
    key = (SLOT, uses[1]["add_and_store_back"], 0)
    assert stored.counter_writes == {key} and stored.changes.writes[key] == 6
    assert set(stored.counter_checks) == set(_sstore_checks(5, 6, key))


def test_usdt_supply_shards_are_the_compiled_layout_slots() -> None:
    bundle = FilesystemInputBundle([CONTRACTS_DIR])
    output = compile_from_file_input(
        bundle.load_file(source_path("USDT").name), input_bundle=bundle, output_formats=["layout"]
    )
    layout = output["layout"]["storage_layout"]["supply_shards"]
    shards = usdt_supply_shards()
    assert layout["type"] == "int256[256]"
    assert {shard.address for shard in shards} == {USDT_ADDRESS}
    assert [shard.slot for shard in shards] == list(range(layout["slot"], layout["slot"] + 256))
