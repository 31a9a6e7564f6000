"""`sluice bitcoind install|path`: put a working bitcoind in place and say where it is."""

import argparse
from pathlib import Path

from regtest.binaries import DEFAULT_REGTEST_DIR, Binaries, install


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bitcoind", help="install bitcoind or print its paths")
    commands = parser.add_subparsers(dest="bitcoind_command", required=True, metavar="ACTION")
    install_parser = commands.add_parser(
        "install", help="use $BITCOIND or a bitcoind >= 25 on PATH, else fetch Bitcoin Knots"
    )
    install_parser.add_argument("--dir", type=Path, default=DEFAULT_REGTEST_DIR)
    install_parser.add_argument("--bitcoind", type=Path, help="an existing bitcoind to use")
    install_parser.set_defaults(handler=_install)
    path_parser = commands.add_parser("path", help="print the bitcoind and bitcoin-cli wrappers")
    path_parser.add_argument("--dir", type=Path, default=DEFAULT_REGTEST_DIR)
    path_parser.set_defaults(handler=_path)


def _install(args: argparse.Namespace) -> int:
    _print(install(args.dir, args.bitcoind))
    return 0


def _path(args: argparse.Namespace) -> int:
    _print(Binaries.in_dir(args.dir / "bin"))
    return 0


def _print(binaries: Binaries) -> None:
    print(f"bitcoind: {binaries.bitcoind}")
    print(f"bitcoin-cli: {binaries.bitcoin_cli}")
