"""Counter values tracked through a worker's EVM: which uses a commit-time shift keeps exact.

In a worker, a counter slot's SLOAD pushes a `Tracked` word (an `int` that knows its counter).
The worker's computation then runs with an opcode table that never lets py-evm touch one:
while a transaction holds a tracked word (`CounterOpcodes.engage`) every opcode that consumes
stack items is wrapped, and the wrapper hands py-evm plain ints. ADD and SUB of a tracked word
and a plain one give a tracked result; LT, GT, SLT, SGT, EQ, ISZERO and JUMPI's condition record
a check (`counters.Check`); SSTORE of a tracked word into its own counter keeps it tracked and
records the equalities and zero tests SSTORE's gas and refund depend on; every other consumer
(arithmetic, bitwise, memory, hashing, calls, logs, return data, another slot, two tracked
words added) marks the counter escaped, and an escaped counter is validated by exact value.
Only the opcode level is sound here: py-evm slices bytes and memory with stack ints, which
CPython does without calling any method of an `int` subclass. `Tracked`'s own int methods are a
second net: any of them marks the counter escaped.
"""

from collections.abc import Mapping
from typing import Any

from eth.abc import ComputationAPI, OpcodeAPI
from eth.vm import opcode_values as op
from eth.vm.stack import to_int
from eth_typing import Address, Hash32

from sidechain.executor.counters import EQ, GT, LT, SGT, SLT, Check, Operand, compare
from sidechain.executor.mvstate import SLOT, WIPE, Key, RecordingAccountDB, TxAccess, TxWrites, View


class Tracked(int):
    """A word loaded from counter `key`, plus or minus plain values. Any int method marks the
    counter escaped (in `escaped`, its transaction's set) and answers with plain ints."""

    key: Key
    escaped: set[Key]

    @classmethod
    def of(cls, word: int, key: Key, escaped: set[Key]) -> "Tracked":
        """`word` (a plain int) tracked as counter `key`."""
        value = int.__new__(cls, word)
        value.key = key
        value.escaped = escaped
        return value

    def __reduce_ex__(self, protocol: Any) -> tuple[type[int], tuple[int]]:
        self.escaped.add(self.key)
        return int, (plain(self),)


def plain(value: int) -> int:
    """`value` as a plain int, without calling a `Tracked` method."""
    return int.__add__(value, 0)


def _escaping(name: str) -> Any:
    method = getattr(int, name)

    def escape(self: Tracked, *args: Any) -> Any:
        self.escaped.add(self.key)
        return method(self, *args)

    escape.__name__ = name
    return escape


def _escaping_property(name: str) -> property:
    getter = getattr(int, name).__get__

    def escape(self: Tracked) -> Any:
        self.escaped.add(self.key)
        return getter(self)

    return property(escape)


for _name in (
    *(f"__{n}__" for n in ("add", "sub", "mul", "truediv", "floordiv", "mod", "divmod", "pow")),
    *(f"__r{n}__" for n in ("add", "sub", "mul", "truediv", "floordiv", "mod", "divmod", "pow")),
    *(f"__{n}__" for n in ("lshift", "rshift", "and", "or", "xor")),
    *(f"__r{n}__" for n in ("lshift", "rshift", "and", "or", "xor")),
    *(f"__{n}__" for n in ("neg", "pos", "abs", "invert", "lt", "le", "gt", "ge", "eq", "ne")),
    *(f"__{n}__" for n in ("bool", "int", "float", "index", "hash", "trunc", "floor", "ceil")),
    *(f"__{n}__" for n in ("round", "format", "repr", "str", "getnewargs")),
    "to_bytes",
    "bit_length",
    "bit_count",
    "as_integer_ratio",
    "conjugate",
):
    setattr(Tracked, _name, _escaping(_name))
for _name in ("real", "imag", "numerator", "denominator"):
    setattr(Tracked, _name, _escaping_property(_name))


def _released(value: Any) -> Any:
    """A stack item handed to py-evm: a tracked word escapes and goes as a plain int."""
    if type(value) is Tracked:
        value.escaped.add(value.key)
        return plain(value)
    return value


def _untracked(value: Any) -> Any:
    """A stack item handed to py-evm by an opcode that recorded what it does with it."""
    return plain(value) if type(value) is Tracked else value


def _operand(value: int | bytes) -> Operand:
    return (value.key, plain(value)) if type(value) is Tracked else to_int(value)


def _word(operand: Operand) -> int:
    return operand[1] if isinstance(operand, tuple) else operand


class CounterTrackingDB(RecordingAccountDB):
    """A worker's account database: reads of `counter_slots` are recorded apart (first read
    word per counter), with the transaction's checks, escapes and tracked writes; `take`
    turns an escaped counter's read into an ordinary read (validated by value)."""

    def __init__(self, view: View, state_root: Hash32) -> None:
        self.counter_slots: frozenset[Key] = frozenset()
        self.opcodes: CounterOpcodes | None = None
        super().__init__(view, state_root)

    def _reset(self) -> None:
        super()._reset()
        self._counter_reads: dict[Key, int] = {}
        self._checks: dict[Check, None] = {}  # in order, each once
        self._escaped: set[Key] = set()
        if self.opcodes is not None:
            self.opcodes.release()

    def _read(self, key: Key) -> Any:
        if key not in self.counter_slots:
            return super()._read(key)
        word = self._counter_reads.get(key)
        if word is None:
            if self._local.get((WIPE, key[1])):
                return 0
            word = self._counter_reads[key] = self.view.get(key)
        return word

    def get_storage(self, address: Address, slot: int, from_journal: bool = True) -> int:
        value = super().get_storage(address, slot, from_journal)
        return plain(value) if type(value) is Tracked else value

    def counter_original(self, key: Key) -> int:
        """Counter `key`'s value when the transaction began, tracked (0 once wiped here)."""
        word = self._read(key)
        if key not in self._counter_reads:
            return word  # type: ignore[no-any-return]
        return Tracked.of(word, key, self._escaped)

    def counter_current(self, key: Key) -> int:
        """Counter `key`'s value now: tracked unless the transaction stored a plain value."""
        value = self._local.get(key)
        return self.counter_original(key) if value is None else value  # type: ignore[no-any-return]

    def keep_tracked(self, key: Key, value: Tracked) -> None:
        """The value SSTORE just wrote to counter `key` is `value` (same word, tracked)."""
        self._local[key] = value

    def check(self, op: int, left: int | bytes, right: int | bytes) -> None:
        """Record comparison `op` of two stack items, at least one of them tracked."""
        first, second = _operand(left), _operand(right)
        self._checks[(op, first, second, compare(op, _word(first), _word(second)))] = None

    def escape(self, key: Key) -> None:
        """Counter `key` is validated by exact value."""
        self._escaped.add(key)

    def changes(self) -> TxWrites:
        changes = super().changes()
        writes = changes.writes
        for key in self._counter_reads:
            value = writes.get(key)
            if type(value) is Tracked:
                writes[key] = plain(value)
        return changes

    def _access(self) -> TxAccess:
        access = super()._access()
        if not self._counter_reads:
            return access
        shifting = {}
        for key, word in self._counter_reads.items():
            if key in self._escaped:
                access.reads[key] = word
            else:
                shifting[key] = word
        return TxAccess(
            access.pre_reads,
            access.reads,
            access.changes,
            shifting,
            tuple(self._checks),
            frozenset(key for key in shifting if type(self._local.get(key)) is Tracked),
        )


def _db(computation: ComputationAPI) -> CounterTrackingDB:
    return computation.state._account_db  # type: ignore[attr-defined,no-any-return]


class _Opcode:
    """An opcode of the tracking table around py-evm's own (`opcode`)."""

    __slots__ = ("mnemonic", "opcode")

    def __init__(self, opcode: OpcodeAPI) -> None:
        self.opcode = opcode
        # py-evm wraps a deprecated opcode (SELFDESTRUCT) in a function around it
        self.mnemonic = getattr(opcode, "mnemonic", None) or opcode.__wrapped__.mnemonic  # type: ignore[attr-defined]


class _Escape(_Opcode):
    """Any consumer but those below: its tracked operands escape."""

    __slots__ = ("inputs",)

    def __init__(self, opcode: OpcodeAPI, inputs: int) -> None:
        super().__init__(opcode)
        self.inputs = inputs

    def __call__(self, computation: ComputationAPI) -> None:
        values = computation._stack.values  # type: ignore[attr-defined]
        for position in range(max(-self.inputs, -len(values)), 0):
            if type(values[position]) is Tracked:
                values[position] = _released(values[position])
        self.opcode(computation=computation)


class _Shift(_Opcode):
    """ADD (or SUB, not `commutative`) of a tracked word and a plain one: the result is
    tracked. A plain word minus a tracked one, or two tracked words, escape."""

    __slots__ = ("commutative",)

    def __init__(self, opcode: OpcodeAPI, commutative: bool) -> None:
        super().__init__(opcode)
        self.commutative = commutative

    def __call__(self, computation: ComputationAPI) -> None:
        values = computation._stack.values  # type: ignore[attr-defined]
        if len(values) < 2:
            return self.opcode(computation=computation)
        left, right = values[-1], values[-2]
        left_tracked, right_tracked = type(left) is Tracked, type(right) is Tracked
        if not (left_tracked or right_tracked):
            return self.opcode(computation=computation)
        carried = None
        if left_tracked and not right_tracked:
            carried = left
        elif right_tracked and not left_tracked and self.commutative:
            carried = right
        if carried is None:
            values[-1], values[-2] = _released(left), _released(right)
            return self.opcode(computation=computation)
        values[-1], values[-2] = _untracked(left), _untracked(right)
        self.opcode(computation=computation)
        values[-1] = Tracked.of(values[-1], carried.key, carried.escaped)
        return None


class _Compare(_Opcode):
    """LT, GT, SLT, SGT, EQ (`unary`: ISZERO, as EQ with 0): recorded as a check."""

    __slots__ = ("op", "unary")

    def __init__(self, opcode: OpcodeAPI, op: int, unary: bool = False) -> None:
        super().__init__(opcode)
        self.op = op
        self.unary = unary

    def __call__(self, computation: ComputationAPI) -> None:
        values = computation._stack.values  # type: ignore[attr-defined]
        inputs = 1 if self.unary else 2
        if len(values) >= inputs:
            left, right = values[-1], 0 if self.unary else values[-2]
            if type(left) is Tracked or type(right) is Tracked:
                _db(computation).check(self.op, left, right)
                values[-1] = _untracked(left)
                if not self.unary:
                    values[-2] = _untracked(right)
        self.opcode(computation=computation)


class _Jumpi(_Opcode):
    """JUMPI: a tracked condition is a check (EQ with 0); a tracked destination escapes."""

    def __call__(self, computation: ComputationAPI) -> None:
        values = computation._stack.values  # type: ignore[attr-defined]
        if len(values) >= 2:
            values[-1] = _released(values[-1])
            condition = values[-2]
            if type(condition) is Tracked:
                _db(computation).check(EQ, condition, 0)
                values[-2] = plain(condition)
        self.opcode(computation=computation)


class _Load(_Opcode):
    """SLOAD: a counter's value is pushed tracked (and the table engaged); a tracked slot
    number escapes."""

    __slots__ = ("table",)

    def __init__(self, opcode: OpcodeAPI, table: "CounterOpcodes") -> None:
        super().__init__(opcode)
        self.table = table

    def __call__(self, computation: ComputationAPI) -> None:
        values = computation._stack.values  # type: ignore[attr-defined]
        if not values:
            return self.opcode(computation=computation)
        slot = values[-1] = _released(values[-1])
        self.opcode(computation=computation)
        db = _db(computation)
        key = (SLOT, computation.msg.storage_address, to_int(slot))
        if key in db.counter_slots:
            value = db.counter_current(key)
            if type(value) is Tracked:
                values[-1] = value
                self.table.engage()
        return None


class _Store(_Opcode):
    """SSTORE: a counter's own tracked value stays tracked; the equalities and zero tests of
    the original, current and new values (all SSTORE gas and refunds depend on) are checks.
    A tracked value stored elsewhere escapes, and so does the counter if SSTORE fails (its
    error text shows the values)."""

    _TESTS = ((1, 2), (0, 1), (0, 2), (0, 3), (1, 3), (2, 3))  # of (original, current, new, 0)

    def __call__(self, computation: ComputationAPI) -> None:
        values = computation._stack.values  # type: ignore[attr-defined]
        if len(values) < 2:
            return self.opcode(computation=computation)
        slot = values[-1] = _released(values[-1])
        value = values[-2]
        db = _db(computation)
        key = (SLOT, computation.msg.storage_address, to_int(slot))
        if key not in db.counter_slots:
            values[-2] = _released(value)
            return self.opcode(computation=computation)
        own = type(value) is Tracked and value.key == key
        words = (db.counter_original(key), db.counter_current(key), value, 0)
        for left, right in self._TESTS:
            if type(words[left]) is Tracked or type(words[right]) is Tracked:
                db.check(EQ, words[left], words[right])
        values[-2] = plain(value) if own else _released(value)
        try:
            self.opcode(computation=computation)
        except Exception:
            db.escape(key)
            raise
        if own:
            db.keep_tracked(key, value)
        return None


# Stack items each consuming opcode takes (opcodes that take none, and POP, DUP, SWAP, which
# only move items, are left alone; an opcode missing here is guarded over the whole stack).
_INPUTS = {
    **dict.fromkeys((op.ISZERO, op.NOT, op.BALANCE, op.CALLDATALOAD, op.EXTCODESIZE), 1),
    **dict.fromkeys((op.EXTCODEHASH, op.BLOCKHASH, op.BLOBHASH, op.MLOAD, op.JUMP), 1),
    **dict.fromkeys((op.TLOAD, op.SELFDESTRUCT), 1),
    **dict.fromkeys((op.MUL, op.DIV, op.SDIV, op.MOD, op.SMOD, op.EXP, op.SIGNEXTEND), 2),
    **dict.fromkeys((op.AND, op.OR, op.XOR, op.BYTE, op.SHL, op.SHR, op.SAR, op.SHA3), 2),
    **dict.fromkeys((op.MSTORE, op.MSTORE8, op.TSTORE, op.RETURN, op.REVERT), 2),
    **dict.fromkeys((op.ADDMOD, op.MULMOD, op.CALLDATACOPY, op.CODECOPY), 3),
    **dict.fromkeys((op.RETURNDATACOPY, op.MCOPY, op.CREATE), 3),
    **dict.fromkeys((op.EXTCODECOPY, op.CREATE2), 4),
    **dict.fromkeys((op.DELEGATECALL, op.STATICCALL), 6),
    **dict.fromkeys((op.CALL, op.CALLCODE), 7),
    **{op.LOG0 + n: 2 + n for n in range(5)},
}
_MOVES = frozenset((op.POP, *range(op.PUSH0, op.SWAP16 + 1)))
_NO_INPUTS = (
    frozenset(
        (op.STOP, op.ADDRESS, op.ORIGIN, op.CALLER, op.CALLVALUE, op.CALLDATASIZE, op.CODESIZE)
    )
    | frozenset(
        (op.GASPRICE, op.RETURNDATASIZE, *range(op.COINBASE, op.BLOBBASEFEE + 1), op.PC, op.MSIZE)
    )
    | frozenset((op.GAS, op.JUMPDEST))
)
_COMPARISONS = {op.LT: LT, op.GT: GT, op.SLT: SLT, op.SGT: SGT, op.EQ: EQ}


class CounterOpcodes:
    """A tracking computation's opcode table (`table`, the dict py-evm looks opcodes up in):
    SLOAD and SSTORE always wrapped; while a transaction holds a tracked word (`engage`, until
    `release` at its end) every other opcode that consumes stack items too."""

    def __init__(self, opcodes: Mapping[int, OpcodeAPI]) -> None:
        self.table: dict[int, Any] = dict(opcodes)
        self.table[op.SLOAD] = _Load(opcodes[op.SLOAD], self)
        self.table[op.SSTORE] = _Store(opcodes[op.SSTORE])
        self._plain = {
            code: opcode
            for code, opcode in opcodes.items()
            if code not in _MOVES and code not in _NO_INPUTS and code not in (op.SLOAD, op.SSTORE)
        }
        self._guarded = {code: _guarded(code, opcode) for code, opcode in self._plain.items()}
        self.engaged = False

    def engage(self) -> None:
        if not self.engaged:
            self.table.update(self._guarded)
            self.engaged = True

    def release(self) -> None:
        if self.engaged:
            self.table.update(self._plain)
            self.engaged = False


def _guarded(code: int, opcode: OpcodeAPI) -> _Opcode:
    if code == op.ADD:
        return _Shift(opcode, commutative=True)
    if code == op.SUB:
        return _Shift(opcode, commutative=False)
    if code in _COMPARISONS:
        return _Compare(opcode, _COMPARISONS[code])
    if code == op.ISZERO:
        return _Compare(opcode, EQ, unary=True)
    if code == op.JUMPI:
        return _Jumpi(opcode)
    return _Escape(opcode, _INPUTS.get(code, 1024))
