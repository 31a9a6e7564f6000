"""`sluice replay`: our chain's blocks replay, tampered blocks are rejected, exit codes."""

import json
from pathlib import Path

import pytest

from sidechain.errors import HeaderMismatch, InvalidTransaction
from sidechain.executor.errors import InvalidBlock
from sidechain.executor.forks import SLUICE_FORKS
from sidechain.executor.registry import EXECUTORS
from sidechain.executor.replay import ChainReplay, load_tests, run_test
from sidechain.executor.sequential import SequentialExecutor
from sluice.cli import main


def test_replay_of_our_chain_passes_and_prints_the_closing_line(
    sluice_fixtures: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["replay", str(sluice_fixtures["valid"]), str(sluice_fixtures["invalid"])])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert lines[-1] == "14 passed, 0 failed"
    assert all(line.startswith("PASS ") for line in lines[:-1])
    assert len(lines) == 15


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
    sluice_fixtures: dict[str, Path], variant: str, error: type[Exception], reason: str
) -> None:
    test = next(t for t in load_tests(sluice_fixtures["invalid"]) if t.name.endswith(variant))
    replay = ChainReplay(test, SequentialExecutor(test.chain_id), SLUICE_FORKS)
    replay.import_block(test.blocks[0].rlp)
    with pytest.raises(error, match=reason):
        replay.import_block(test.blocks[1].rlp)
    assert replay.head.hash == test.last_block_hash


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
    assert lines[-1] == "0 passed, 2 failed"
    assert all("post-state root" in line for line in lines[:-1])


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


def test_replay_with_both_executors_passes_our_chain(
    sluice_fixtures: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["replay", "--executor", "both", str(sluice_fixtures["valid"])])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert lines[-1] == "2 passed, 0 failed"
    assert all("[sequential+parallel]" in line for line in lines[:-1])
