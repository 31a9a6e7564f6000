"""`sluice devnet`: run the whole stack on this machine until Ctrl-C."""

import argparse
from pathlib import Path

from regtest.binaries import install
from sluice.devnet import Devnet, DevnetSettings, run_until_interrupted


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("devnet", help="run the whole stack locally (regtest)")
    parser.add_argument(
        "--workdir", type=Path, default=Path(".devnet"), help="all state lives here"
    )
    parser.add_argument("--bitcoind-rpc-port", type=int, default=18443)
    parser.add_argument("--node-rpc-port", type=int, default=8545, help="sidechain JSON-RPC")
    parser.add_argument(
        "--no-wait", action="store_true", help="start, print the status and stop again"
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    settings = DevnetSettings(args.workdir.resolve(), args.bitcoind_rpc_port, args.node_rpc_port)
    run_until_interrupted(Devnet(settings, install()), wait=not args.no_wait)
    return 0
