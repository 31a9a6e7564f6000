"""`sluice relayer run --config FILE`: run one federation member's relayer until SIGINT/SIGTERM."""

import argparse
import asyncio
from pathlib import Path

from relayer.loops import LOOP_FACTORIES
from relayer.runner import run_relayer
from sluice.config import load_config


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser("relayer", help="a federation member's relayer")
    commands = parser.add_subparsers(dest="relayer_command", required=True, metavar="ACTION")
    run = commands.add_parser("run", help="run the relayer's loops (deposits, withdrawals, ...)")
    run.add_argument("--config", type=Path, required=True, help="the member's TOML config")
    run.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    asyncio.run(run_relayer(load_config(args.config), LOOP_FACTORIES))
    return 0
