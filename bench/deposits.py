"""Benchmark: deposits per second from their confirmation to their mint, through the federation.

Starts its own regtest bitcoind, a sidechain node and a 2-of-3 federation of relayer processes
(each with its own SQLite ledger), registers N deposit addresses with every member, pays them
(sendmany, 500 outputs a transaction) and mines one block. The clock starts when the block that
brings them to the confirmation depth (2) is mined and stops when the Bridge has emitted a
Deposited event for each: scanning, attesting (3 signatures each), the node's deposit
transactions and the relayers recording the mints all fall inside it.

    .venv/bin/python bench/deposits.py [--deposits 1000] [--json] [--workdir DIR]
"""

import argparse
import contextlib
import json
import secrets
import tempfile
import time
from pathlib import Path

from eth_utils import to_checksum_address

from regtest.binaries import install
from regtest.node import BitcoindNode
from relayer.testing import FederationRig, FederationSettings, pay_btc

OUTPUTS_PER_TX = 500
SATS = 20_000
DEPTH = 2


def measure(node: BitcoindNode, workdir: Path, deposits: int) -> dict[str, float | int]:
    settings = FederationSettings(
        confirmations=DEPTH, poll_interval=0.1, scan_start_height=int(node.getblockcount())
    )
    federation = FederationRig(workdir, node, settings)
    federation.start()
    try:
        recipients = [to_checksum_address(secrets.token_bytes(20)) for _ in range(deposits)]
        addresses = list(federation.register_addresses(recipients).values())
        for start in range(0, deposits, OUTPUTS_PER_TX):
            pay_btc(node, {a: SATS for a in addresses[start : start + OUTPUTS_PER_TX]})
        node.mine(DEPTH - 1)
        started = time.perf_counter()
        node.mine(1)
        federation.wait_until(lambda: len(federation.deposited_events()) >= deposits, 1800)
        elapsed = time.perf_counter() - started
        ids = {event.deposit_id for event in federation.deposited_events()}
        assert len(ids) == deposits, f"{len(ids)} distinct mints for {deposits} deposits"
    finally:
        federation.close()
    return {
        "deposits": deposits,
        "members": settings.members,
        "threshold": settings.threshold,
        "seconds": round(elapsed, 2),
        "deposits_per_second": round(deposits / elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deposits", type=int, default=1000)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--workdir", type=Path, help="keep every process's state and log here")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        tmp = args.workdir or stack.enter_context(tempfile.TemporaryDirectory(prefix="sluice-"))
        node = BitcoindNode(Path(tmp) / "bitcoind", install())
        node.start()
        try:
            node.mine_to_maturity()
            figures = measure(node, Path(tmp), args.deposits)
        finally:
            node.stop()
    if args.json:
        print(json.dumps(figures))
        return
    print(
        f"{figures['deposits']} BTC deposits, {figures['threshold']}-of-{figures['members']} "
        f"federation, depth {DEPTH}: confirmation to mint in {figures['seconds']} s = "
        f"{figures['deposits_per_second']} deposits/s"
    )


if __name__ == "__main__":
    main()
