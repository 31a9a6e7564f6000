"""`sluice audit --config FILE`: check the solvency invariant of BTC and USDT; exit 1 if broken."""

import argparse
import asyncio
import json
from pathlib import Path

from bridge.bitcoin.rpc import BitcoinRPC
from bridge.ledger import create_ledger_engine, ledger_sessions
from relayer.audit import Solvency, audit
from relayer.node_client import NodeClient
from sluice.config import Config, load_config


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "audit", help="solvency: sidechain supply = Bitcoin holdings - withdrawals in flight"
    )
    parser.add_argument("--config", type=Path, required=True, help="a member's TOML config")
    parser.add_argument("--json", action="store_true", help="print the terms as JSON")
    parser.set_defaults(handler=_run)


async def _audit(config: Config) -> list[Solvency]:
    engine = create_ledger_engine(config.ledger.url)
    try:
        async with (
            BitcoinRPC.from_config(config.bitcoin) as rpc,
            NodeClient(config.relayer.node_rpc_url, config.relayer.node_timeout) as node,
        ):
            with ledger_sessions(engine)() as session:
                return await audit(config, session, rpc, node)
    finally:
        engine.dispose()


def _run(args: argparse.Namespace) -> int:
    results = asyncio.run(_audit(load_config(args.config)))
    if args.json:
        print(
            json.dumps(
                {
                    str(r.asset): {"holds": r.holds, "unbacked": r.surplus, "terms": dict(r.terms)}
                    for r in results
                },
                indent=2,
            )
        )
    else:
        for result in results:
            print("\n".join(result.lines()))
    return 0 if all(result.holds for result in results) else 1
