"""The benchmark's `lending` block (distinct users supplying BTC and borrowing USDT against it)
is worth measuring only if its calls succeed and the parallel executor agrees with the
sequential one; and independent borrowers must not wait for each other over a pool slot (the
pool's USDT balance is a counter that merges)."""

import pytest

from sidechain.executor.bench import BenchReport, run_bench

TXS = 80  # above the parallel executor's minimum (64), below which it runs sequentially
SUCCESS = b"\x01"  # a receipt's status


@pytest.fixture(scope="module")
def report() -> BenchReport:
    return run_bench("lending", TXS, ("sequential", "parallel"), {"workers": 2})


def test_every_supply_and_borrow_succeeds_with_the_sequential_result(report: BenchReport) -> None:
    assert report.seq.statuses == (SUCCESS,) * TXS
    assert report.par.statuses == report.seq.statuses
    assert report.figures()["roots_equal"] is True
    assert report.par.speculated == TXS  # the block ran in the workers, not sequentially


def test_independent_borrowers_are_not_re_executed(report: BenchReport) -> None:
    assert report.par.reexecutions < TXS // 20, report.par.conflicts
