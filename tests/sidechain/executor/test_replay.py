"""`sluice replay`: our chain's blocks replay, tampered blocks are rejected, exit codes."""

import json
from pathlib import Path

import pytest

from sidechain.errors import HeaderMismatch, InvalidTransaction
from sidechain.executor.errors import InvalidBlock
from sidechain.executor.forks import SLUICE_FORKS
from sidechain.executor.registry import EXECUTORS, make_executor
from sidechain.executor.replay import ChainReplay, load_tests, run_test
from sidechain.store import Store
from sluice.cli import main

# our fixtures include a creation whose init code self-destructs, on purpose
pytestmark = pytest.mark.filterwarnings("ignore:SELFDESTRUCT opcode:DeprecationWarning")


def test_replay_of_our_chain_passes_and_prints_the_closing_line(
    sluice_fixtures: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["replay", str(sluice_fixtures["valid"]), str(sluice_fixtures["invalid"])])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert lines[-2:] == ["Sluice: 14 passed, 0 failed", "14 passed, 0 failed"]
    assert all(line.startswith("PASS ") for line in lines[:-2])
    assert len(lines) == 16


@pytest.mark.parametrize("replay_executor", ["sequential", "parallel"])
@pytest.mark.parametrize(
    ("variant", "error", "reason"),
    [
        ("state_root", HeaderMismatch, "state_root"),
        ("gas_used", HeaderMismatch, "gas_used"),
        ("receipts_root", HeaderMismatch, "receipt_root"),
        ("bloom", HeaderMismatch, "bloom"),
        ("transactions_root", HeaderMismatch, "transaction_root"),
        ("requests_hash", HeaderMismatch, "requests_hash"),
        ("base_fee", InvalidBlock, "base fee"),
        ("timestamp_not_after_parent", InvalidBlock, "timestamp"),
        ("unknown_parent", InvalidBlock, "unknown parent"),
        ("nonce_too_high", InvalidTransaction, "nonce"),
        ("gas_above_limit", InvalidBlock, "gas"),
        ("truncated_rlp", InvalidBlock, "RLP"),
    ],
)
def test_each_tampered_block_is_rejected_for_its_own_reason(
    sluice_fixtures: dict[str, Path],
    variant: str,
    error: type[Exception],
    reason: str,
    replay_executor: str,
    tmp_path: Path,
) -> None:
    test = next(t for t in load_tests(sluice_fixtures["invalid"]) if t.name.endswith(variant))
    store = Store(tmp_path)
    executor = make_executor(
        replay_executor, test.chain_id, store_path=tmp_path, min_parallel_txs=1, workers=1
    )
    try:
        replay = ChainReplay(test, executor, SLUICE_FORKS, store)
        replay.import_block(test.blocks[0].rlp)
        with pytest.raises(error, match=reason):
            replay.import_block(test.blocks[1].rlp)
        assert replay.head.hash == test.last_block_hash
        # the parallel executor ran the valid deposit block (2 transactions) in its workers
        assert (replay.speculated >= 2) == (replay_executor == "parallel")
    finally:
        executor.close()
        store.close()


def test_a_wrong_expected_head_or_state_fails_and_exits_one(
    sluice_fixtures: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tests = json.loads(sluice_fixtures["valid"].read_text())
    broken = {}
    for name, fixture in tests.items():
        broken[name + "_wrong_post"] = {**fixture, "postStateHash": "0x" + "11" * 32}
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    code = main(["replay", str(path)])
    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    assert lines[-2:] == ["Sluice: 0 passed, 2 failed", "0 passed, 2 failed"]
    assert all("post-state root" in line for line in lines[:-2])


def test_a_tampered_block_claimed_valid_fails_the_test(
    sluice_fixtures: dict[str, Path],
) -> None:
    invalid = json.loads(sluice_fixtures["invalid"].read_text())
    fixture = invalid["sluice_invalid_state_root"]
    bad = fixture["blocks"][1]
    fixture["blocks"][1] = {"rlp": bad["rlp"], "blockHeader": {}}
    path = sluice_fixtures["invalid"].parent / "claimed_valid.json"
    path.write_text(json.dumps({"claimed_valid": fixture}))
    outcome = run_test(load_tests(path)[0], "sequential")
    assert not outcome.passed
    assert "block 1 rejected" in outcome.detail


@pytest.mark.parametrize("choice", ["parallel", "both"])
def test_an_executor_whose_module_has_not_landed_is_reported_unavailable(
    sluice_fixtures: dict[str, Path],
    choice: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(EXECUTORS, "parallel", "sidechain.executor.not_landed:Executor")
    code = main(["replay", "--executor", choice, str(sluice_fixtures["valid"])])
    assert code == 2
    assert "'parallel' is not available" in capsys.readouterr().err


def test_replay_with_both_executors_runs_the_workers_and_rejects_tampered_blocks(
    sluice_fixtures: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Blocks of 2 and 9 transactions, far below the node's small-block threshold, still go
    through the parallel executor's workers in replay (11 transactions in the longer test)."""
    files = [str(sluice_fixtures["valid"]), str(sluice_fixtures["invalid"])]
    code = main(["replay", "--executor", "both", "--workers", "2", *files])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert lines[-1] == "14 passed, 0 failed"
    results = lines[:-2]
    assert len(results) == 14
    assert all(line.startswith("PASS ") and "[sequential+parallel]" in line for line in results)
    mixed = next(line for line in results if "sluice_deposits_mixed_empty" in line)
    assert mixed.endswith("3 blocks, 11 transactions executed in workers")
    assert all("executed in workers" in line for line in results)
