"""Benchmark: deposits the scanner recognises per second, on blocks of 2,000 deposit outputs.

Starts its own regtest bitcoind, registers the deposit addresses in a fresh ledger, mines
blocks each paying every address once (sendmany, 500 outputs a transaction), then times the
scanner over them. Three figures from the same blocks:

  end to end   DepositScanner.execute: fetch (getblock verbosity 3), parse, Omni indexing,
               recognition and the ledger writes (one transaction per block)
  fetch        the RPC round trips and JSON parsing alone
  recognise    matching outputs to deposit addresses and judging them, each address's script
               checked against the federation (no I/O, script checks not yet cached)

    .venv/bin/python bench/scanner.py [--blocks 3] [--outputs 2000] [--postgres] [--json]
"""

import argparse
import asyncio
import contextlib
import json
import shlex
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from bridge.bitcoin.blocks import fetch_blocks
from bridge.bitcoin.deposit_script import DepositScript
from bridge.bitcoin.omni.indexer import OmniIndexer
from bridge.bitcoin.omni.payload import MAINNET_USDT
from bridge.bitcoin.payments import DepositRules, Federation, recognise, script_problem
from bridge.bitcoin.rpc import BitcoinRPC
from bridge.bitcoin.scanner import DepositScanner, ScannerSettings
from bridge.ledger import Ledger, create_ledger_engine, ledger_sessions, upgrade_ledger
from bridge.ledger.testing import TEST_POSTGRES_URL, postgres_schema
from regtest.binaries import install
from regtest.node import BitcoindNode

FEDERATION = [
    "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
    "02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5",
    "02f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9",
]
OUTPUTS_PER_TX = 500
PAYMENT_BTC = Decimal("0.0002")


def deposit_addresses(count: int) -> list[tuple[str, str, str]]:
    """(address, witness script hex, recipient) for `count` distinct recipients."""
    rows = []
    for n in range(count):
        recipient = f"0x{n + 1:040x}"
        script = DepositScript.create(recipient, FEDERATION, 2)
        rows.append((script.address("regtest"), script.witness_script.hex(), recipient))
    return rows


def mine_deposit_blocks(node: BitcoindNode, addresses: list[str], blocks: int) -> None:
    node.mine(blocks + 10)  # enough mature coinbases to fund every block
    for _ in range(blocks):
        for start in range(0, len(addresses), OUTPUTS_PER_TX):
            chunk = addresses[start : start + OUTPUTS_PER_TX]
            node.sendmany("", {address: PAYMENT_BTC for address in chunk})
        node.mine(1)


async def measure(node: BitcoindNode, ledger_url: str, blocks: int, outputs: int) -> dict:
    engine = create_ledger_engine(ledger_url)
    upgrade_ledger(engine)
    sessions = ledger_sessions(engine)
    rows = deposit_addresses(outputs)
    with sessions.begin() as session:
        ledger = Ledger(session)
        for address, script, recipient in rows:
            ledger.deposit_addresses.add(address, script, recipient)
    start = node.getblockcount() + 1
    mine_deposit_blocks(node, [row[0] for row in rows], blocks)
    first = node.getblockcount() - blocks + 1
    federation = Federation(frozenset(bytes.fromhex(key) for key in FEDERATION), 2)
    rules = DepositRules(usdt_property_id=MAINNET_USDT, federation=federation)
    settings = ScannerSettings(rules, start_height=start, omni_start_height=start, batch_size=5)
    async with BitcoinRPC(node.rpc_url, user=node.rpc_user, password=node.rpc_password) as rpc:
        scanner = DepositScanner(rpc, sessions, settings)
        began = time.perf_counter()
        await scanner.execute()
        end_to_end = time.perf_counter() - began

        began = time.perf_counter()
        fetched = await fetch_blocks(rpc, range(first, first + blocks))
        fetch = time.perf_counter() - began
    known = {address: bytes.fromhex(script) for address, script, _ in rows}
    indexer = OmniIndexer(start_height=first)
    omni = [indexer.index_block(block) for block in fetched]
    script_problem.cache_clear()  # the scanner's run above warmed it
    began = time.perf_counter()
    recognised = sum(
        len(recognise(block, results, known, rules))
        for block, results in zip(fetched, omni, strict=True)
    )
    recognition = time.perf_counter() - began
    with sessions() as session:
        recorded = sum(Ledger(session).deposits.count_by_status().values())
    engine.dispose()
    deposits = blocks * outputs
    assert recognised == deposits == recorded, (recognised, deposits, recorded)
    return {
        "blocks": blocks,
        "deposit_outputs_per_block": outputs,
        "deposits": deposits,
        "ledger": ledger_url.split(":", 1)[0],
        "end_to_end_seconds": round(end_to_end, 3),
        "end_to_end_deposits_per_second": round(deposits / end_to_end),
        "fetch_seconds": round(fetch, 3),
        "recognise_seconds": round(recognition, 4),
        "recognise_deposits_per_second": round(deposits / recognition),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=3)
    parser.add_argument("--outputs", type=int, default=2000, help="deposit outputs per block")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help=f"ledger in a throw-away schema of {TEST_POSTGRES_URL} (default: a SQLite file)",
    )
    parser.add_argument("--json", action="store_true", help="print them as one JSON object last")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="sluice-bench-"))
        if args.postgres:
            url = stack.enter_context(postgres_schema(prefix="bench_scanner"))
        else:
            url = f"sqlite:///{Path(tmp) / 'ledger.sqlite3'}"
        node = BitcoindNode(Path(tmp) / "bitcoind", install())
        node.start()
        try:
            node.mine_to_maturity()
            figures = asyncio.run(measure(node, url, args.blocks, args.outputs))
        finally:
            node.stop()
    print(f"command: {shlex.join([sys.executable, *sys.argv])}")
    print(
        f"{figures['deposits']} deposits in {args.blocks} blocks of {args.outputs} outputs "
        f"({figures['ledger']} ledger)\n"
        f"  end to end: {figures['end_to_end_deposits_per_second']} deposits/s "
        f"({figures['end_to_end_seconds']} s; fetching alone {figures['fetch_seconds']} s)\n"
        f"  recognise:  {figures['recognise_deposits_per_second']} deposits/s "
        f"({figures['recognise_seconds']} s)"
    )
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
