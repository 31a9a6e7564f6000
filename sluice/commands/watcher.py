"""`sluice watcher run --config FILE`: the independent checker (relayer.watcher);
`sluice watcher challenge --config FILE --claim ID`: judge one claim and challenge it now."""

import argparse
import asyncio
import sys
from pathlib import Path

from relayer.errors import CourtRefused
from relayer.watcher.run import challenge_now, run_watcher
from sluice.config import load_config
from sluice.errors import ConfigError

CLAIM_ID_DIGITS = 64


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser("watcher", help="check the federation's claims, challenge")
    commands = parser.add_subparsers(dest="watcher_command", required=True, metavar="ACTION")
    run = commands.add_parser("run", help="follow both chains, judge claims, challenge, vote")
    run.add_argument("--config", type=Path, required=True, help="the watcher's TOML config")
    run.set_defaults(handler=_run)
    challenge = commands.add_parser(
        "challenge", help="judge one claim with this watcher's checks and challenge it now"
    )
    challenge.add_argument("--config", type=Path, required=True, help="the watcher's config")
    challenge.add_argument("--claim", required=True, help="the court's claim id (0x + 64 hex)")
    challenge.set_defaults(handler=_challenge)


def _run(args: argparse.Namespace) -> int:
    asyncio.run(run_watcher(load_config(args.config)))
    return 0


def _challenge(args: argparse.Namespace) -> int:
    """0: challenged; 1: the court refused (its reason printed, nothing sent)."""
    digits = str(args.claim).removeprefix("0x")
    if len(digits) != CLAIM_ID_DIGITS or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise ConfigError(f"--claim must be 0x and 64 hex digits, got {args.claim!r}")
    try:
        tx_hash = asyncio.run(challenge_now(load_config(args.config), bytes.fromhex(digits)))
    except CourtRefused as refused:
        print(f"refused: {refused.reason}", file=sys.stderr)
        return 1
    print(f"challenged claim 0x{digits.lower()} in {tx_hash}")
    return 0
