"""`sluice audit --config FILE`: check the solvency invariant of BTC and USDT (exit 1 if broken),
and report the economic security: the federation's restaked stake against what the bridge holds."""

import argparse
import asyncio
import json
from pathlib import Path

from bridge.bitcoin.rpc import BitcoinRPC
from bridge.ledger import Ledger, create_ledger_engine, ledger_sessions
from relayer.audit import Auditor, Solvency, read_ledger
from relayer.node_client import NodeClient
from relayer.security import Security, read_security
from relayer.vault import VaultSettings
from sluice.config import Config, load_config


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "audit",
        help="solvency: sidechain supply = Bitcoin holdings - withdrawals in flight - fee reserve",
    )
    parser.add_argument("--config", type=Path, required=True, help="a member's TOML config")
    parser.add_argument("--json", action="store_true", help="print the terms as JSON")
    parser.set_defaults(handler=_run)


async def audit(config: Config) -> tuple[list[Solvency], Security]:
    """The invariant from the ledger, bitcoind and node that `config` names, and the stake
    behind the federation."""
    settings = VaultSettings.from_config(config)
    engine = create_ledger_engine(config.ledger.url)
    try:
        with ledger_sessions(engine)() as session:
            figures = read_ledger(Ledger(session), settings)
        async with (
            BitcoinRPC.from_config(config.bitcoin) as rpc,
            NodeClient(config.relayer.node_rpc_url, config.relayer.node_timeout) as node,
        ):
            auditor = Auditor(settings, config.relayer.scan_start_height)
            results = await auditor.check(figures, rpc, node)
            return results, await read_security(node, results)
    finally:
        engine.dispose()


def _run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    results, security = asyncio.run(audit(config))
    if args.json:
        report = {str(r.asset): r.to_json() for r in results}
        print(json.dumps({**report, "security": security.to_json()}, indent=2))
    else:
        print(
            f"vault change address (fee reserve top-ups): "
            f"{VaultSettings.from_config(config).change_address}"
        )
        for result in results:
            print("\n".join(result.lines()))
        print("\n".join(security.lines()))
    return 0 if all(result.holds for result in results) else 1
