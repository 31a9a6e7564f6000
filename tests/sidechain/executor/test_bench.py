"""`sluice bench executor --json`: one JSON object with the benchmark's keys on the last line."""

import json

import pytest

from sidechain.executor.registry import EXECUTORS
from sluice.cli import main

KEYS = {
    "seq_s",
    "par_s",
    "speedup",
    "seq_tps",
    "par_tps",
    "reexecutions",
    "seq_peak_mb",
    "par_peak_mb",
    "roots_equal",
}


def test_bench_json_prints_the_keys_and_equal_roots(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "bench",
            "executor",
            "--executor",
            "sequential",
            "--workload",
            "erc20",
            "--txs",
            "6",
            "--repeat",
            "2",
            "--json",
        ]
    )
    captured = capsys.readouterr()
    out = captured.out.splitlines()
    figures = json.loads(out[-1])
    assert code == 0
    assert figures.keys() == KEYS
    assert "executors: sequential vs sequential (fastest of 2 runs each)" in out
    assert figures["roots_equal"] is True
    assert figures["reexecutions"] == 0
    assert figures["seq_s"] > 0 and figures["par_s"] > 0
    assert figures["seq_tps"] == pytest.approx(6 / figures["seq_s"], rel=0.01)
    # the progress bar advanced during the execution itself, to the block's last transaction
    assert "sequential 6/6" in captured.err


def test_bench_says_when_an_executor_is_not_available(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(EXECUTORS, "parallel", "sidechain.executor.not_landed:Executor")
    code = main(["bench", "executor", "--txs", "2"])
    assert code == 2
    assert "'parallel' is not available" in capsys.readouterr().err


def test_bench_runs_sequential_against_parallel_with_equal_roots(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(
        ["bench", "executor", "--workload", "transfers", "--txs", "70", "--workers", "2", "--json"]
    )
    captured = capsys.readouterr()
    out = captured.out.splitlines()
    figures = json.loads(out[-1])
    assert code == 0
    assert "executors: sequential vs parallel" in out
    assert "par_speculated_in_workers: 70" in out
    assert figures["roots_equal"] is True
    assert "parallel 70/70" in captured.err
