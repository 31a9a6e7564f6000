"""Commutative counters: storage slots whose writes merge as deltas instead of conflicting.

A counter slot is opt-in, for a contract that only ever adds to or subtracts from it with
checked arithmetic and never lets its value reach anything else: no log, no return value, no
other slot, no branch but the overflow check (USDT's signed supply shards, which every mint and
burn to accounts of one shard writes). A transaction that read such a slot at `read` while
block order gives `current` then did the same with every value shifted by `current - read`,
provided the shift changes nothing the EVM could see: every value it read or wrote there stays
in the slot type's range (the overflow checks pass or fail alike), keeps its zero-ness (SSTORE
gas and refunds, EIP-2200 and EIP-3529, depend on zero versus non-zero and on equalities, which
a shift keeps) and appears in none of its outputs. Anything else is re-executed.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from eth_typing import Address

from sidechain import predeploys
from sidechain.executor.mvstate import SLOT, Key, TxWrites
from sidechain.predeploys import USDT_ADDRESS

_WORD = 2**256
_HALF = 2**255


@dataclass(frozen=True)
class CounterSlot:
    """Storage slot `slot` of `address`, holding a uint256 (or, `signed`, an int256)."""

    address: Address
    slot: int
    signed: bool = False


CounterKeys = Mapping[Key, bool]  # state key -> whether the slot holds a signed integer


def counter_keys(slots: Iterable[CounterSlot]) -> dict[Key, bool]:
    return {(SLOT, counter.address, counter.slot): counter.signed for counter in slots}


# USDT.vy's storage layout: balanceOf 0, allowance 1, nonces 2, then supply_shards
# (int256[256]) in slots 3..258; tests/sidechain/executor/test_counters.py checks the compiler's.
USDT_SUPPLY_SHARDS_SLOT = 3
USDT_SUPPLY_SHARDS = 256


def usdt_supply_shards() -> tuple[CounterSlot, ...]:
    """USDT's `supply_shards`: every mint and burn adds to the shard of the account."""
    return tuple(
        CounterSlot(USDT_ADDRESS, USDT_SUPPLY_SHARDS_SLOT + index, signed=True)
        for index in range(USDT_SUPPLY_SHARDS)
    )


def sluice_counter_slots() -> tuple[CounterSlot, ...]:
    """Our chain's counters: USDT's supply shards and the predeploys' unsigned counters
    (`sidechain.predeploys.counter_slots`: vault share totals, pool totals, the USDT balances
    of the rsUSDT vault and of the pool)."""
    return (
        *usdt_supply_shards(),
        *(CounterSlot(address, slot) for address, slot in predeploys.counter_slots()),
    )


def _number(word: int, signed: bool) -> int:
    return word - _WORD if signed and word >= _HALF else word


def _in_range(number: int, signed: bool) -> bool:
    return -_HALF <= number < _HALF if signed else 0 <= number < _WORD


def rebased(
    changes: TxWrites,
    reads: Mapping[Key, int],
    seen: Mapping[Key, tuple[int, ...]],
    current: Callable[[Key], int],
    kinds: CounterKeys,
    outputs: Iterable[bytes],
) -> TxWrites | Key:
    """`changes` with each counter's final write shifted by `current - reads`, or the key of
    a counter whose shift could have changed what the transaction did. `seen` are the values
    the transaction read from or wrote to each counter, in order; `outputs` its return data,
    log data and topics (32-byte words)."""
    writes = dict(changes.writes)
    shown = b"".join(outputs)
    for key, read in reads.items():
        if key not in writes:  # read only: the value itself mattered
            if current(key) != read:
                return key
            continue
        signed = kinds[key]
        shift = _number(current(key), signed) - _number(read, signed)
        if shift == 0:  # what it read still holds: nothing moves
            continue
        for word in seen[key]:
            value = _number(word, signed)
            moved = value + shift
            if not _in_range(moved, signed) or (moved == 0) != (value == 0):
                return key
            if word and word.to_bytes(32, "big") in shown:
                return key
        writes[key] = (_number(writes[key], signed) + shift) % _WORD
    return TxWrites(writes, changes.deltas, changes.codes)
