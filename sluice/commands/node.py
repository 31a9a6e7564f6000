"""`sluice node init|run`: create a sidechain data directory, then run the node and its JSON-RPC."""

import argparse
import asyncio
import logging
import signal
from pathlib import Path

from sidechain.datadir import init_dev, init_from_file
from sidechain.executor.registry import EXECUTORS
from sidechain.genesis import DEV_ACCOUNTS_FILE
from sidechain.node import DEFAULT_EXECUTOR, Node
from sidechain.rpc.app import RpcSettings, serve
from sluice.config import NodeConfig, load_config
from sluice.errors import SluiceError

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("node", help="the sidechain node")
    commands = parser.add_subparsers(dest="node_command", required=True, metavar="ACTION")

    init = commands.add_parser("init", help="create a data directory from a genesis (or --dev)")
    source = init.add_mutually_exclusive_group(required=True)
    source.add_argument("--genesis", type=Path, help="genesis TOML file")
    source.add_argument(
        "--dev",
        action="store_true",
        help=f"a development chain: funded keys in DIR/{DEV_ACCOUNTS_FILE}",
    )
    init.add_argument("--accounts", type=int, default=10, help="dev: how many funded accounts")
    init.add_argument("--chain-id", type=int, help="dev: chain id (default 5151)")
    _add_common(init)
    init.set_defaults(handler=_init)

    run = commands.add_parser("run", help="produce blocks and serve Ethereum JSON-RPC")
    run.add_argument("--rpc-host", help="address to listen on (default 127.0.0.1)")
    run.add_argument("--rpc-port", type=int, help="JSON-RPC port (default 8545)")
    run.add_argument(
        "--block-interval", type=float, help="seconds between blocks (default: the genesis')"
    )
    run.add_argument(
        "--executor",
        choices=tuple(EXECUTORS),
        default=DEFAULT_EXECUTOR,
        help=f"block executor (default {DEFAULT_EXECUTOR}; "
        "blocks under 64 transactions run sequentially)",
    )
    run.add_argument(
        "--workers", type=int, help="parallel executor processes (default: the number of cores)"
    )
    _add_common(run)
    run.set_defaults(handler=_run)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--datadir", type=Path, help="data directory (default: node.datadir)")
    parser.add_argument("--config", type=Path, help="TOML config file")


def _node_config(args: argparse.Namespace) -> NodeConfig:
    config = load_config(args.config).node
    return NodeConfig(
        datadir=args.datadir or config.datadir,
        rpc_host=getattr(args, "rpc_host", None) or config.rpc_host,
        rpc_port=config.rpc_port if getattr(args, "rpc_port", None) is None else args.rpc_port,
    )


def _init(args: argparse.Namespace) -> int:
    datadir = _node_config(args).datadir
    datadir.mkdir(parents=True, exist_ok=True)
    if args.dev:
        genesis, accounts = init_dev(datadir, args.accounts, args.chain_id)
        print(f"dev chain {genesis.chain_id} in {datadir}")
        print(f"{len(accounts)} funded accounts: {datadir / DEV_ACCOUNTS_FILE}")
    else:
        genesis = init_from_file(args.genesis, datadir)
        print(f"chain {genesis.chain_id} in {datadir}")
    return 0


def _run(args: argparse.Namespace) -> int:
    config = _node_config(args)
    settings = RpcSettings(host=config.rpc_host, port=config.rpc_port)
    if args.workers is not None and args.workers < 1:
        raise SluiceError(f"--workers must be >= 1, got {args.workers}")
    asyncio.run(_serve_until_signalled(config.datadir, settings, args))
    return 0


async def _serve_until_signalled(
    datadir: Path, settings: RpcSettings, args: argparse.Namespace
) -> None:
    """Run until SIGINT or SIGTERM, then stop the server and the producer and close the store."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    node = Node.open(
        datadir,
        block_interval=args.block_interval,
        executor_name=args.executor,
        workers=args.workers,
    )
    try:
        await serve(node, settings, stop)
        log.info("node stopped at block %d", node.head().number)
    finally:
        node.close()
