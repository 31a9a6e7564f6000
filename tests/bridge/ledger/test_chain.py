"""Reorg bookkeeping on bitcoin_blocks, and named processing cursors."""

import pytest
from sqlalchemy.orm import Session

from bridge.ledger import BlockDoesNotConnect, Ledger


def _hash(height: int, branch: str = "a") -> str:
    return f"{branch}{height:063x}"


def _connect_chain(ledger: Ledger, start: int, stop: int, branch: str = "a") -> None:
    for height in range(start, stop + 1):
        ledger.blocks.connect(height, _hash(height, branch), _hash(height - 1, branch))


def test_blocks_connect_only_on_top_of_the_tip(ledger: Ledger) -> None:
    assert ledger.blocks.tip() is None
    _connect_chain(ledger, 100, 105)
    ledger.session.commit()
    tip = ledger.blocks.tip()
    assert (tip.height, tip.hash) == (105, _hash(105))  # type: ignore[union-attr]
    with pytest.raises(BlockDoesNotConnect) as gap:
        ledger.blocks.connect(107, _hash(107), _hash(106))
    assert (gap.value.height, gap.value.tip_height) == (107, 105)
    with pytest.raises(BlockDoesNotConnect) as fork:
        ledger.blocks.connect(106, _hash(106, "b"), _hash(105, "b"))
    assert fork.value.tip_hash == _hash(105)
    assert ledger.blocks.at(103).prev_hash == _hash(102)  # type: ignore[union-attr]
    assert ledger.blocks.by_hash(_hash(104).upper()).height == 104  # type: ignore[union-attr]


def test_a_reorg_disconnects_the_stale_branch_and_the_new_one_connects(ledger: Ledger) -> None:
    _connect_chain(ledger, 100, 105)
    ledger.session.commit()
    removed = ledger.blocks.disconnect_above(102)
    assert [block.height for block in removed] == [105, 104, 103]
    ledger.blocks.connect(103, _hash(103, "b"), _hash(102))
    _connect_chain(ledger, 104, 106, branch="b")
    ledger.session.commit()
    assert [b.hash for b in ledger.blocks.recent(5)] == [
        _hash(106, "b"),
        _hash(105, "b"),
        _hash(104, "b"),
        _hash(103, "b"),
        _hash(102),
    ]
    (reorg,) = ledger.audit.for_record("bitcoin_chain", "102")
    assert reorg.action == "reorg"
    assert reorg.detail == {
        "fork_height": 102,
        "disconnected": [_hash(105), _hash(104), _hash(103)],
    }
    assert ledger.blocks.disconnect_above(106) == []


def test_cursors_store_and_move_named_checkpoints(session: Session) -> None:
    cursors = Ledger(session).cursors
    assert cursors.get("deposits") is None
    assert cursors.position("deposits", default=-1) == -1
    cursors.set("deposits", 100, tag=_hash(100))
    cursors.set("withdrawals", 7)
    session.commit()
    cursors.set("deposits", 101, tag=_hash(101))
    session.commit()
    stored = cursors.get("deposits")
    assert (stored.position, stored.tag) == (101, _hash(101))  # type: ignore[union-attr]
    assert [(c.name, c.position) for c in cursors.all()] == [("deposits", 101), ("withdrawals", 7)]
    assert cursors.position("withdrawals", default=0) == 7
