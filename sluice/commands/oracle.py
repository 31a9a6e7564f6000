"""`sluice oracle push --config FILE`: a federation member's price pusher (see lending.pusher)."""

import argparse
import asyncio
from pathlib import Path

from lending.pusher import run_pusher
from sluice.config import load_config


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser("oracle", help="the federation's price oracle")
    commands = parser.add_subparsers(dest="oracle_command", required=True, metavar="ACTION")
    push = commands.add_parser(
        "push", help="observe prices, co-sign peers' reports, post signed reports"
    )
    push.add_argument(
        "--config", type=Path, required=True, help="the member's TOML config with [oracle]"
    )
    push.set_defaults(handler=_push)


def _push(args: argparse.Namespace) -> int:
    asyncio.run(run_pusher(load_config(args.config)))
    return 0
