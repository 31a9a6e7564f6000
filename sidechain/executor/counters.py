"""Commutative counters: storage slots whose writes merge as shifted deltas instead of conflicting.

A counter slot is opt-in (USDT's supply shards, the predeploys' share and debt totals). A worker
tracks every value it loads from one through the EVM (`counter_tracking`): adding or subtracting
a plain value keeps it tracked, every comparison or truth test on it is recorded as a `Check`
(operands and outcome), storing it back into its own slot is the one write that moves with it,
and any other use makes the transaction validate the counter by exact value instead. A
transaction that read a counter at `read` while block order gives `current` then did exactly the
same with every tracked value shifted by `current - read` (mod 2**256) as long as each recorded
check has the same outcome on the shifted values: the same branches, the same overflow reverts,
the same SSTORE gas (which depends only on equalities and zero-ness, recorded as checks). At
commit its tracked writes move by the shift (`rebased`); a changed outcome re-executes it.
This follows Aptos' aggregators (AIP-47) with the EVM's comparisons as the only reads.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from eth.vm import opcode_values
from eth_typing import Address

from sidechain import predeploys
from sidechain.executor.mvstate import SLOT, Key, TxAccess, TxWrites
from sidechain.predeploys import USDT_ADDRESS

WORD = 2**256
_HALF = 2**255

# The comparisons a check may hold: the EVM's (ISZERO, a JUMPI condition and SSTORE's zero
# tests are EQ with 0).
LT, GT, SLT, SGT, EQ = (
    opcode_values.LT,
    opcode_values.GT,
    opcode_values.SLT,
    opcode_values.SGT,
    opcode_values.EQ,
)
Operand = int | tuple[Key, int]  # a plain word, or (counter key, the tracked word it was)
Check = tuple[int, Operand, Operand, bool]  # (comparison, left, right, outcome)


def _signed(word: int) -> int:
    return word - WORD if word >= _HALF else word


def compare(op: int, left: int, right: int) -> bool:
    """The EVM's comparison `op` of two words."""
    if op == LT:
        return left < right
    if op == GT:
        return left > right
    if op == SLT:
        return _signed(left) < _signed(right)
    if op == SGT:
        return _signed(left) > _signed(right)
    if op == EQ:
        return left == right
    raise ValueError(f"not a comparison opcode: {op:#x}")


@dataclass(frozen=True)
class CounterSlot:
    """Storage slot `slot` of `address`, holding a counter (any 256-bit word)."""

    address: Address
    slot: int


def counter_keys(slots: Iterable[CounterSlot]) -> frozenset[Key]:
    return frozenset((SLOT, counter.address, counter.slot) for counter in slots)


# USDT.vy's storage layout: balanceOf 0, allowance 1, nonces 2, then supply_shards
# (int256[256]) in slots 3..258; tests/sidechain/executor/test_counters.py checks the compiler's.
USDT_SUPPLY_SHARDS_SLOT = 3
USDT_SUPPLY_SHARDS = 256


def usdt_supply_shards() -> tuple[CounterSlot, ...]:
    """USDT's `supply_shards`: every mint and burn adds to the shard of the account."""
    return tuple(
        CounterSlot(USDT_ADDRESS, USDT_SUPPLY_SHARDS_SLOT + index)
        for index in range(USDT_SUPPLY_SHARDS)
    )


def sluice_counter_slots() -> tuple[CounterSlot, ...]:
    """Our chain's counters: USDT's supply shards and the predeploys' counters
    (`sidechain.predeploys.counter_slots`: vault share totals, pool totals, the USDT balances
    of the rsUSDT vault and of the pool)."""
    return (
        *usdt_supply_shards(),
        *(CounterSlot(address, slot) for address, slot in predeploys.counter_slots()),
    )


def rebased(access: TxAccess, current: Callable[[Key], int]) -> TxWrites | Key:
    """`access.changes` with each tracked counter write shifted by `current - read`, or the key
    of a counter whose shift changes the outcome of one of the transaction's checks."""
    shifts = {}
    for key, read in access.counter_reads.items():
        shift = (current(key) - read) % WORD
        if shift:
            shifts[key] = shift
    if not shifts:  # what it read still holds: nothing moves
        return access.changes
    for op, left, right, outcome in access.counter_checks:
        if compare(op, _moved(left, shifts), _moved(right, shifts)) != outcome:
            return left[0] if isinstance(left, tuple) else right[0]  # type: ignore[index]
    writes = dict(access.changes.writes)
    for key in access.counter_writes:
        if key in shifts:
            writes[key] = (writes[key] + shifts[key]) % WORD
    return TxWrites(writes, access.changes.deltas, access.changes.codes)


def _moved(operand: Operand, shifts: Mapping[Key, int]) -> int:
    if isinstance(operand, int):
        return operand
    key, word = operand
    return (word + shifts.get(key, 0)) % WORD
