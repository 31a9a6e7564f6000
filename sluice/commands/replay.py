"""`sluice replay FILE...`: run Ethereum BlockchainTests fixtures through our executors."""

import argparse
from pathlib import Path

from sidechain.executor.registry import CHOICES, executor_names
from sidechain.executor.replay import iter_tests, run_tests


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "replay", help="import BlockchainTests fixtures (ethereum/tests format) block by block"
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="JSON file or dir")
    parser.add_argument(
        "--executor", choices=CHOICES, default="sequential", help="executor(s) to run"
    )
    parser.set_defaults(handler=_replay)


def _replay(args: argparse.Namespace) -> int:
    names = executor_names(args.executor)
    passed = failed = 0
    for test in iter_tests(args.files):
        outcome = run_tests(test, names)
        mark = "PASS" if outcome.passed else "FAIL"
        print(f"{mark} {outcome.name} [{outcome.executor}] {outcome.detail}", flush=True)
        passed += outcome.passed
        failed += not outcome.passed
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0
