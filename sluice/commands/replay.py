"""`sluice replay FILE...`: run Ethereum BlockchainTests fixtures through our executors."""

import argparse
from collections import Counter
from pathlib import Path

from sidechain.executor.registry import CHOICES, executor_names
from sidechain.executor.replay import Replayer, iter_tests


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "replay", help="import BlockchainTests fixtures (ethereum/tests format) block by block"
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="JSON file or dir")
    parser.add_argument(
        "--executor", choices=CHOICES, default="sequential", help="executor(s) to run"
    )
    parser.add_argument("--workers", type=int, help="parallel executor's worker processes")
    parser.set_defaults(handler=_replay)


def _replay(args: argparse.Namespace) -> int:
    """One PASS/FAIL line per test, the counts per network (fork), then `N passed, N failed`."""
    replayer = Replayer(executor_names(args.executor), args.workers)
    passed: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    try:
        for test in iter_tests(args.files):
            outcome = replayer.run(test)
            mark = "PASS" if outcome.passed else "FAIL"
            print(f"{mark} {outcome.name} [{outcome.executor}] {outcome.detail}", flush=True)
            (passed if outcome.passed else failed)[outcome.network] += 1
    finally:
        replayer.close()
    for network in sorted(passed.keys() | failed.keys()):
        print(f"{network}: {passed[network]} passed, {failed[network]} failed")
    print(f"{passed.total()} passed, {failed.total()} failed")
    return 1 if failed else 0
