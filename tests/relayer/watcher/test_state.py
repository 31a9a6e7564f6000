"""The watcher's state file: what a watcher killed at any point resumes from."""

import json
import stat
from pathlib import Path

import pytest

from relayer.errors import WatcherError
from relayer.watcher.state import ClaimWork, Pending, Request, Verdict, WatcherState


def a_state() -> WatcherState:
    work = ClaimWork(
        kind=2,
        operators=["0x" + "11" * 20, "0x" + "22" * 20],
        asset=0,
        amount=70_000,
        opened_at=30,
        closes_at=50,
        detail={"withdrawal_id": 1, "btc_txid": "ab" * 32},
        status="challenged",
        challenger="0x" + "33" * 20,
        deadline=60,
        deficit=40_000_000,
        evidence="0x00",
        verdict=Verdict(False, "pays the attacker", 40_000_000, "0x00"),
        refused={"challenge": "claim already challenged"},
    )
    return WatcherState(
        sidechain=41,
        bitcoin=130,
        claims={"0x" + "44" * 32: work},
        requests={"1": Request(0, 70_000, "bcrt1qexample", None, reopened=True)},
        outbox={"vote:0x" + "44" * 32: Pending("vote:0x" + "44" * 32, "0x01", "0x02", 7)},
        unclaimed_spends={"cd" * 32: 129},
    )


def test_a_saved_state_loads_as_it_was_and_only_its_owner_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "watcher-state.json"
    state = a_state()
    state.save(path)
    assert WatcherState.load(path) == state
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert WatcherState.load(tmp_path / "none.json") == WatcherState()  # a first start


def test_a_state_file_of_another_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "watcher-state.json"
    a_state().save(path)
    raw = json.loads(path.read_text())
    path.write_text(json.dumps({**raw, "version": 99}))
    with pytest.raises(WatcherError, match="is not a version 1 watcher state"):
        WatcherState.load(path)


@pytest.mark.parametrize("text", ["{", '{"version": 1}', "[]"])
def test_a_damaged_state_file_is_refused_with_its_path(tmp_path: Path, text: str) -> None:
    path = tmp_path / "watcher-state.json"
    path.write_text(text)
    with pytest.raises(WatcherError, match=f"cannot read the watcher state {path}"):
        WatcherState.load(path)
