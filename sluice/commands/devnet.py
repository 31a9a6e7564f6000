"""`sluice devnet`: run the whole stack on this machine until Ctrl-C (see sluice.devnet)."""

import argparse
from pathlib import Path

from regtest.binaries import install
from sluice.devnet import Devnet, DevnetSettings, run_until_interrupted
from sluice.errors import SluiceError

DEFAULTS = DevnetSettings(Path(".devnet"))


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("devnet", help="run the whole stack locally (regtest)")
    parser.add_argument(
        "--workdir", type=Path, default=DEFAULTS.workdir, help="all state lives (and stays) here"
    )
    parser.add_argument("--bitcoind-rpc-port", type=int, default=DEFAULTS.bitcoind_rpc_port)
    parser.add_argument(
        "--node-rpc-port", type=int, default=DEFAULTS.node_rpc_port, help="sidechain JSON-RPC"
    )
    parser.add_argument("--api-port", type=int, default=DEFAULTS.api_port, help="REST API")
    parser.add_argument(
        "--signing-port-base",
        type=int,
        default=DEFAULTS.signing_port_base,
        help="federation member i signs on base+i",
    )
    parser.add_argument(
        "--block-seconds",
        type=float,
        default=DEFAULTS.block_seconds,
        help="mine a regtest block this often (0: only when you mine)",
    )
    parser.add_argument(
        "--accounts", type=int, default=DEFAULTS.demo_accounts, help="demo accounts (first run)"
    )
    parser.add_argument(
        "--no-wait", action="store_true", help="start, print the endpoints and stop again"
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    ports = (args.bitcoind_rpc_port, args.node_rpc_port, args.api_port, args.signing_port_base)
    if not all(1024 <= port <= 65_000 for port in ports):
        raise SluiceError(f"ports must be 1024..65000, got {ports}")
    if args.block_seconds < 0 or not 1 <= args.accounts <= 100:
        raise SluiceError(
            f"--block-seconds must be >= 0 and --accounts 1..100, "
            f"got {args.block_seconds} and {args.accounts}"
        )
    settings = DevnetSettings(
        workdir=args.workdir.resolve(),
        bitcoind_rpc_port=args.bitcoind_rpc_port,
        node_rpc_port=args.node_rpc_port,
        api_port=args.api_port,
        signing_port_base=args.signing_port_base,
        block_seconds=args.block_seconds,
        demo_accounts=args.accounts,
    )
    run_until_interrupted(Devnet(settings, install()), wait=not args.no_wait)
    return 0
