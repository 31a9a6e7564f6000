"""Views of the block's state: a storage wipe and the slots written after it in one transaction."""

from eth.constants import BLANK_ROOT_HASH
from eth.db.atomic import AtomicDB

from sidechain.executor.mvstate import SLOT, WIPE, TrieReader, TxWrites, View

ADDRESS = b"\x07" * 20


def test_slots_written_after_a_wipe_survive_it_whatever_the_key_order() -> None:
    """A self-destructed contract recreated in the same transaction: the slot was first written
    before the wipe (so it comes first in the write set) and again after it."""
    view = View(TrieReader(AtomicDB(), BLANK_ROOT_HASH))
    view.set_all({(SLOT, ADDRESS, 1): 5, (SLOT, ADDRESS, 2): 6})
    changed = view.apply(TxWrites({(SLOT, ADDRESS, 1): 9, (WIPE, ADDRESS): True}, {}, {}))
    assert set(changed) == {(SLOT, ADDRESS, 1), (WIPE, ADDRESS)}
    assert view.get((SLOT, ADDRESS, 1)) == 9
    assert view.get((SLOT, ADDRESS, 2)) == 0  # wiped: not read from before the wipe
