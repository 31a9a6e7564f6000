"""`sluice api --config FILE`: serve the REST API and the explorer page."""

import argparse
from pathlib import Path

from relayer.api import run_api
from sluice.config import load_config


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser("api", help="serve the REST API and the explorer page")
    parser.add_argument("--config", type=Path, help="TOML config file ([api], [ledger], ...)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    run_api(load_config(args.config))
    return 0
