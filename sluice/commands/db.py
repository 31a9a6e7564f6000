"""`sluice db`: migrate the ledger schema up or down (Alembic), or show its revision."""

import argparse
from pathlib import Path

from bridge.ledger.engine import create_ledger_engine
from bridge.ledger.migrate import current_revision, downgrade_ledger, upgrade_ledger
from sluice.config import load_config


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, help="TOML config file (for ledger.url)")
    common.add_argument("--url", help="SQLAlchemy URL of the ledger (default: ledger.url)")
    parser = subparsers.add_parser("db", help="migrate the ledger database")
    actions = parser.add_subparsers(dest="db_action", required=True, metavar="ACTION")

    upgrade = actions.add_parser("upgrade", parents=[common], help="migrate up (to head)")
    upgrade.add_argument("revision", nargs="?", default="head", help="target (default head)")
    upgrade.set_defaults(handler=_upgrade)

    downgrade = actions.add_parser("downgrade", parents=[common], help="migrate down")
    downgrade.add_argument("revision", help="target revision (`base` removes every table)")
    downgrade.set_defaults(handler=_downgrade)

    current = actions.add_parser("current", parents=[common], help="print the revision")
    current.set_defaults(handler=_current)


def _url(args: argparse.Namespace) -> str:
    return args.url or load_config(args.config).ledger.url


def _upgrade(args: argparse.Namespace) -> int:
    upgrade_ledger(_url(args), args.revision)
    return 0


def _downgrade(args: argparse.Namespace) -> int:
    downgrade_ledger(_url(args), args.revision)
    return 0


def _current(args: argparse.Namespace) -> int:
    engine = create_ledger_engine(_url(args))
    try:
        print(current_revision(engine) or "base")
    finally:
        engine.dispose()
    return 0
