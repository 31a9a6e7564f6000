"""Counter slots merge as shifted deltas only where the shift cannot change what the EVM did."""

from eth_typing import Address
from vyper.compiler import compile_from_file_input
from vyper.compiler.input_bundle import FilesystemInputBundle

from sidechain.contracts.artifacts import CONTRACTS_DIR, source_path
from sidechain.executor.counters import CounterSlot, counter_keys, rebased, usdt_supply_shards
from sidechain.executor.mvstate import SLOT, TxWrites
from sidechain.predeploys import USDT_ADDRESS

CONTRACT = Address(b"\x42" * 20)
KEY = (SLOT, CONTRACT, 0)
WORD = 2**256


def _rebase(read: int, seen: list[int], current: int, signed: bool = False, outputs=()):
    """A transaction that read `read`, saw `seen` (last: its final write), rebased on `current`."""
    changes = TxWrites({KEY: seen[-1]}, {}, {})
    kinds = counter_keys([CounterSlot(CONTRACT, 0, signed)])
    result = rebased(
        changes, {KEY: read}, {KEY: (read, *seen)}, lambda key: current, kinds, outputs
    )
    return result.writes[KEY] if isinstance(result, TxWrites) else None


def test_an_increment_moves_by_the_committed_difference() -> None:
    assert _rebase(read=5, seen=[8], current=7) == 10


def test_a_value_that_would_cross_zero_is_re_executed() -> None:
    # count -= 5 (0: SSTORE to zero refunds), count += 3: on 7 the middle value is 2, not 0
    assert _rebase(read=5, seen=[0, 3], current=7) is None
    # and from a zero start: SSTORE from zero costs 20,000, from non-zero 2,900
    assert _rebase(read=0, seen=[4], current=6) is None


def test_an_unsigned_underflow_the_shift_would_cause_is_re_executed() -> None:
    assert _rebase(read=5, seen=[1], current=3) is None  # 1 - 2 < 0: Vyper's check reverts


def test_signed_shards_wrap_as_int256() -> None:
    minus = lambda n: WORD - n  # noqa: E731
    assert _rebase(read=minus(2), seen=[3], current=10, signed=True) == 15
    assert _rebase(read=5, seen=[2], current=minus(10), signed=True) == minus(13)
    assert _rebase(read=1, seen=[6], current=2**255 - 2, signed=True) is None  # int256 overflow


def test_a_value_shown_in_a_log_or_output_is_re_executed() -> None:
    assert _rebase(read=5, seen=[8], current=7, outputs=[(8).to_bytes(32, "big")]) is None
    assert _rebase(read=5, seen=[8], current=7, outputs=[(9).to_bytes(32, "big")]) == 10


def test_a_counter_only_read_must_be_unchanged() -> None:
    changes = TxWrites({}, {}, {})
    kinds = counter_keys([CounterSlot(CONTRACT, 0)])
    assert rebased(changes, {KEY: 5}, {KEY: (5,)}, lambda key: 5, kinds, []) == changes
    assert rebased(changes, {KEY: 5}, {KEY: (5,)}, lambda key: 6, kinds, []) == KEY


def test_usdt_supply_shards_are_the_compiled_layout_slots() -> None:
    bundle = FilesystemInputBundle([CONTRACTS_DIR])
    output = compile_from_file_input(
        bundle.load_file(source_path("USDT").name), input_bundle=bundle, output_formats=["layout"]
    )
    layout = output["layout"]["storage_layout"]["supply_shards"]
    shards = usdt_supply_shards()
    assert layout["type"] == "int256[256]"
    assert {shard.address for shard in shards} == {USDT_ADDRESS}
    assert all(shard.signed for shard in shards)
    assert [shard.slot for shard in shards] == list(range(layout["slot"], layout["slot"] + 256))
