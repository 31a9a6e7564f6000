"""The Omni indexer: per-address balances of each property from the blocks seen, with undo data.

It validates the supported subset as Omni Core does: an invalid transaction (overspend, unknown
property, grant by someone other than the issuer, malformed payload) is recorded as invalid
with its reason and changes no balance. Each block keeps the previous values of everything it
changed, so `unwind` restores the state exactly on a reorg.
"""

from collections import deque
from collections.abc import MutableMapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from bridge.bitcoin.blocks import Block, Transaction, TxOutput
from bridge.bitcoin.chain import BlockRef, BlockStage, ReorgTooDeep
from bridge.bitcoin.omni import rules
from bridge.bitcoin.omni.errors import OmniPayloadError, UnsupportedOmniMessage
from bridge.bitcoin.omni.payload import (
    MAIN_ECOSYSTEM,
    MAX_AMOUNT,
    TEST_ECOSYSTEM,
    CreateManagedProperty,
    GrantTokens,
    OmniMessage,
    PropertyType,
    SimpleSend,
    decode,
    payload_of_outputs,
)

FIRST_PROPERTY_ID = {MAIN_ECOSYSTEM: 3, TEST_ECOSYSTEM: 0x80000003}  # 1, 2 are OMNI and Test OMNI
UNDO_DEPTH = 1000  # blocks whose undo data (and results) an indexer keeps by default
_ABSENT = object()


class InvalidReason(StrEnum):
    MALFORMED = "malformed payload"
    UNSUPPORTED = "unsupported version or type"
    NO_SENDER = "no sender address"
    NO_REFERENCE = "no reference output"
    UNKNOWN_PROPERTY = "unknown property"
    INSUFFICIENT_BALANCE = "amount exceeds the sender's balance"
    NOT_ISSUER = "sender is not the property's issuer"
    SUPPLY_OVERFLOW = "grant takes supply above the maximum"


@dataclass(frozen=True)
class OmniProperty:
    property_id: int
    name: str
    issuer: str
    divisible: bool
    created_txid: str


@dataclass(frozen=True)
class OmniTxResult:
    """What the indexer made of one Omni transaction in a block."""

    txid: str
    height: int
    message: OmniMessage | None
    sender: str | None
    reference: TxOutput | None
    invalid_reason: InvalidReason | None = None
    property_id: int | None = None  # the property sent, granted or created

    @property
    def valid(self) -> bool:
        return self.invalid_reason is None


@dataclass
class _BlockUndo:
    ref: BlockRef
    prev_hash: str
    changes: list[tuple[MutableMapping[Any, Any], Any, Any]]
    results: list[OmniTxResult]


class OmniIndexer(BlockStage):
    """Omni state over the best chain from `start_height`, undo data for the last `undo_depth`."""

    name = "omni indexer"

    def __init__(self, start_height: int = 0, undo_depth: int = UNDO_DEPTH) -> None:
        self._start_height = start_height
        self.balances: dict[tuple[str, int], int] = {}
        self.properties: dict[int, OmniProperty] = {}
        self.supply: dict[int, int] = {}
        self._blocks: deque[_BlockUndo] = deque(maxlen=undo_depth)
        self._tip: BlockRef | None = None
        self._changes: list[tuple[MutableMapping[Any, Any], Any, Any]] = []

    def balance(self, address: str, property_id: int) -> int:
        return self.balances.get((address, property_id), 0)

    # -- BlockStage --------------------------------------------------------------------------

    @property
    def start_height(self) -> int:
        return self._start_height

    def checkpoint(self) -> BlockRef | None:
        return self._tip

    def hash_at(self, height: int) -> str | None:
        """Known for every block with undo data, and for the parent of the oldest one."""
        if not self._blocks:
            return self._tip.hash if self._tip and self._tip.height == height else None
        oldest = self._blocks[0]
        if height == oldest.ref.height - 1:
            return oldest.prev_hash
        offset = height - oldest.ref.height
        return self._blocks[offset].ref.hash if 0 <= offset < len(self._blocks) else None

    def apply_block(self, block: Block) -> None:
        self.index_block(block)

    def unwind(self, to_height: int) -> None:
        """Undo the blocks above `to_height`; raises `ReorgTooDeep` (changing nothing) when
        that needs undo data no longer kept."""
        if self._tip is None or to_height >= self._tip.height:
            return
        floor = self._blocks[0].ref.height - 1 if self._blocks else self._tip.height
        if to_height < floor and floor >= self._start_height:
            raise ReorgTooDeep(self.name, floor)
        while self._blocks and self._blocks[-1].ref.height > to_height:
            undone = self._blocks.pop()
            for mapping, key, previous in reversed(undone.changes):
                if previous is _ABSENT:
                    del mapping[key]
                else:
                    mapping[key] = previous
            parent = undone.ref.height - 1
            self._tip = BlockRef(parent, undone.prev_hash) if parent >= self._start_height else None

    # -- indexing ----------------------------------------------------------------------------

    def index_block(self, block: Block) -> list[OmniTxResult]:
        """Apply every Omni transaction of `block` in order; returns what each one did."""
        self._changes = []
        results = []
        for tx in block.transactions:
            payload = payload_of_outputs([out.script_pubkey for out in tx.outputs])
            if payload is not None:
                results.append(self._index_tx(tx, payload, block.height))
        self._tip = BlockRef(block.height, block.hash)
        self._blocks.append(_BlockUndo(self._tip, block.prev_hash, self._changes, results))
        return results

    def result(self, txid: str) -> OmniTxResult | None:
        """What an Omni transaction in one of the kept blocks did (None if not among them)."""
        for block in reversed(self._blocks):
            for result in block.results:
                if result.txid == txid:
                    return result
        return None

    def results_of(self, block_hash: str) -> list[OmniTxResult] | None:
        """What the Omni transactions of a kept block did (None if it is not among them)."""
        for block in reversed(self._blocks):
            if block.ref.hash == block_hash:
                return block.results
        return None

    def _index_tx(self, tx: Transaction, payload: bytes, height: int) -> OmniTxResult:
        sender, reference = rules.sender(tx), rules.reference_output(tx)
        result = OmniTxResult(tx.txid, height, None, sender, reference)
        try:
            message = decode(payload)
        except UnsupportedOmniMessage:
            return _invalid(result, InvalidReason.UNSUPPORTED)
        except OmniPayloadError:
            return _invalid(result, InvalidReason.MALFORMED)
        result = replace(result, message=message)
        if sender is None:
            return _invalid(result, InvalidReason.NO_SENDER)
        if isinstance(message, SimpleSend):
            return self._send(result, sender, message)
        if isinstance(message, GrantTokens):
            return self._grant(result, sender, message)
        return self._create(result, sender, message)

    def _send(self, result: OmniTxResult, sender: str, send: SimpleSend) -> OmniTxResult:
        result = _with_property(result, send.property_id)
        if send.property_id not in self.properties:
            return _invalid(result, InvalidReason.UNKNOWN_PROPERTY)
        if result.reference is None or result.reference.address is None:
            return _invalid(result, InvalidReason.NO_REFERENCE)
        if self.balance(sender, send.property_id) < send.amount:
            return _invalid(result, InvalidReason.INSUFFICIENT_BALANCE)
        self._credit(sender, send.property_id, -send.amount)
        self._credit(result.reference.address, send.property_id, send.amount)
        return result

    def _grant(self, result: OmniTxResult, sender: str, grant: GrantTokens) -> OmniTxResult:
        result = _with_property(result, grant.property_id)
        managed = self.properties.get(grant.property_id)
        if managed is None:
            return _invalid(result, InvalidReason.UNKNOWN_PROPERTY)
        if managed.issuer != sender:
            return _invalid(result, InvalidReason.NOT_ISSUER)
        if self.supply.get(grant.property_id, 0) + grant.amount > MAX_AMOUNT:
            return _invalid(result, InvalidReason.SUPPLY_OVERFLOW)
        reference = result.reference
        recipient = reference.address if reference and reference.address else sender
        self._set(
            self.supply, grant.property_id, self.supply.get(grant.property_id, 0) + grant.amount
        )
        self._credit(recipient, grant.property_id, grant.amount)
        return result

    def _create(
        self, result: OmniTxResult, sender: str, create: CreateManagedProperty
    ) -> OmniTxResult:
        first = FIRST_PROPERTY_ID[create.ecosystem]
        property_id = first + sum(
            1 for pid in self.properties if (pid >= 0x80000003) == (first > 3)
        )
        divisible = create.property_type == PropertyType.DIVISIBLE
        created = OmniProperty(property_id, create.name, sender, divisible, result.txid)
        self._set(self.properties, property_id, created)
        return _with_property(result, property_id)

    def _credit(self, address: str, property_id: int, delta: int) -> None:
        self._set(self.balances, (address, property_id), self.balance(address, property_id) + delta)

    def _set(self, mapping: MutableMapping[Any, Any], key: Any, value: Any) -> None:
        self._changes.append((mapping, key, mapping.get(key, _ABSENT)))
        mapping[key] = value


def _invalid(result: OmniTxResult, reason: InvalidReason) -> OmniTxResult:
    return replace(result, invalid_reason=reason)


def _with_property(result: OmniTxResult, property_id: int) -> OmniTxResult:
    return replace(result, property_id=property_id)
