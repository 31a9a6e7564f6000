"""`sluice bench executor`: one workload block run by two executors in one run, compared."""

import argparse
import json

from sidechain.executor.bench import ProgressBar, run_bench
from sidechain.executor.registry import CHOICES, executor_names
from sidechain.executor.workloads import WORKLOADS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bench", help="benchmarks")
    benches = parser.add_subparsers(dest="bench_command", required=True, metavar="BENCH")
    executor = benches.add_parser(
        "executor", help="sequential vs parallel executor on one block of a workload"
    )
    executor.add_argument("--workload", choices=WORKLOADS, default="erc20")
    executor.add_argument("--txs", type=int, default=2000, help="transactions in the block")
    executor.add_argument("--workers", type=int, help="parallel executor's worker processes")
    executor.add_argument(
        "--executor",
        choices=CHOICES,
        default="both",
        help="both: sequential vs parallel; one name: that executor against itself",
    )
    executor.add_argument(
        "--pyevm-baseline",
        action="store_true",
        help="also time py-evm's own apply_transaction loop + one state root on the block",
    )
    executor.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run each executor this many times in turn, report each one's fastest run",
    )
    executor.add_argument("--json", action="store_true", help="print one JSON object last")
    executor.set_defaults(handler=_bench_executor)


def _bench_executor(args: argparse.Namespace) -> int:
    names = executor_names(args.executor)
    pair = (names[0], names[-1])
    options = {"workers": args.workers} if args.workers else {}
    report = run_bench(
        args.workload,
        args.txs,
        pair,
        options,
        ProgressBar(),
        baseline=args.pyevm_baseline,
        repeat=max(1, args.repeat),
    )
    if pair[0] == pair[1]:
        print(f"note: both runs use the {pair[0]} executor (par_* is its second run)")
    for line in report.lines():
        print(line)
    figures = report.figures()
    if args.json:
        print(json.dumps(figures))
    return 0 if figures["roots_equal"] else 1
