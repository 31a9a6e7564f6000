"""`sluice liquidator run --config FILE`: the lending keeper and liquidator (lending.liquidator)."""

import argparse
import asyncio
from pathlib import Path

from lending.liquidator import run_liquidator
from sluice.config import load_config


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser("liquidator", help="the lending pool's keeper and liquidator")
    commands = parser.add_subparsers(dest="liquidator_command", required=True, metavar="ACTION")
    run = commands.add_parser(
        "run", help="accrue every block, watch borrowers, liquidate positions below 1"
    )
    run.add_argument("--config", type=Path, required=True, help="TOML config with [liquidator]")
    run.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    asyncio.run(run_liquidator(load_config(args.config)))
    return 0
