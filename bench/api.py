"""Benchmark: deposit lookups per second and their latency through `sluice api`.

Seeds a fresh ledger with --rows deposits (100,000 by default), starts `sluice api --config`
as its own process on 127.0.0.1, and drives GET /v1/deposits/{txid:vout} for random existing
deposits from this process (a second process) with --concurrency connections for --seconds,
after a one-second warm-up. Prints requests per second and p50/p99 latency.

    .venv/bin/python bench/api.py [--rows 100000] [--seconds 10] [--concurrency 32]
                                  [--postgres] [--json]
"""

import argparse
import asyncio
import contextlib
import json
import random
import shlex
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp

from bridge.ledger import (
    Asset,
    Ledger,
    SeenPayment,
    create_ledger_engine,
    ledger_sessions,
    upgrade_ledger,
)
from bridge.ledger.testing import postgres_schema
from regtest.util import free_port
from relayer.api.process import serving

ADDRESSES = 100
BATCH = 5_000
FEDERATION = [
    "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
    "02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5",
    "02f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9",
]


def seed(url: str, rows: int) -> list[str]:
    """`rows` deposits spread over ADDRESSES deposit addresses; their ids."""
    engine = create_ledger_engine(url)
    upgrade_ledger(engine)
    sessions = ledger_sessions(engine)
    addresses = [f"bcrt1qbench{n:06d}" for n in range(ADDRESSES)]
    with sessions.begin() as session:
        ledger = Ledger(session)
        for n, address in enumerate(addresses):
            ledger.deposit_addresses.add(address, "51", f"0x{n + 1:040x}")
    ids = []
    for start in range(0, rows, BATCH):
        payments = [
            SeenPayment(
                txid=f"{n:064x}",
                vout=n % 3,
                asset=Asset.BTC,
                amount=20_000 + n,
                deposit_address=addresses[n % ADDRESSES],
                block_height=100 + n // 1000,
                block_hash=f"{10**12 + n // 1000:064x}",
                confirmations=1,
            )
            for n in range(start, min(rows, start + BATCH))
        ]
        with sessions.begin() as session:
            ids += [deposit.id for deposit in Ledger(session).deposits.record_many(payments)]
    engine.dispose()
    return ids


@contextlib.contextmanager
def api_server(directory: Path, ledger_url: str) -> Iterator[str]:
    """`sluice api --config FILE` in its own process, until the block ends; its URL."""
    port = free_port()
    config = directory / "sluice.toml"
    keys = ", ".join(f'"{key}"' for key in FEDERATION)
    config.write_text(
        f'[ledger]\nurl = "{ledger_url}"\n\n[bridge]\nfederation_pubkeys = [{keys}]\n'
        f"threshold = 2\n\n[api]\nport = {port}\nrate_limit_per_minute = 1000000000\n"
    )
    with serving(config, port, directory / "api.log") as url:
        yield url


async def load(url: str, ids: list[str], seconds: float, concurrency: int) -> dict[str, float]:
    latencies: list[float] = []
    failures = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def worker(until: float, record: bool) -> None:
            nonlocal failures
            pick = random.Random().choice
            while time.perf_counter() < until:
                started = time.perf_counter()
                async with http.get(f"{url}/v1/deposits/{pick(ids)}") as response:
                    await response.read()
                    ok = response.status == 200
                if record:
                    latencies.append(time.perf_counter() - started)
                    failures += not ok

        warm = time.perf_counter() + 1.0
        await asyncio.gather(*(worker(warm, False) for _ in range(concurrency)))
        started = time.perf_counter()
        until = started + seconds
        await asyncio.gather(*(worker(until, True) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "failures": failures,
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(1000 * latencies[len(latencies) // 2], 2),
        "p99_ms": round(1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--postgres", action="store_true", help="ledger on PostgreSQL")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp, contextlib.ExitStack() as stack:
        directory = Path(temp)
        if args.postgres:
            ledger_url = stack.enter_context(postgres_schema(prefix="bench_api"))
        else:
            ledger_url = f"sqlite:///{directory / 'ledger.sqlite3'}"
        seeding = time.perf_counter()
        ids = seed(ledger_url, args.rows)
        seeding = time.perf_counter() - seeding
        url = stack.enter_context(api_server(directory, ledger_url))
        figures = asyncio.run(load(url, ids, args.seconds, args.concurrency))
    result = {
        "ledger": "postgresql" if args.postgres else "sqlite",
        "ledger_rows": args.rows,
        "seed_seconds": round(seeding, 1),
        "concurrency": args.concurrency,
        "seconds": args.seconds,
        **figures,
    }
    print(f"command: {shlex.join([sys.executable, *sys.argv])}")
    print(
        f"deposit lookups, {args.rows:,} deposits in {result['ledger']} "
        f"(seeded in {result['seed_seconds']} s), {args.concurrency} connections, "
        f"{args.seconds:g} s from a second process on 127.0.0.1:"
    )
    print(
        f"  {figures['requests_per_second']:,.1f} requests/s   p50 {figures['p50_ms']} ms   "
        f"p99 {figures['p99_ms']} ms   ({figures['requests']:,} requests, "
        f"{figures['failures']} not 200)"
    )
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
