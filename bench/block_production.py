"""Block production throughput: transactions per second through the whole node.

Signed transactions (signing is the clients' work, done before timing) go through
`Node.send_raw_transaction` (decode, sender recovery, admission checks) into the mempool; the
producer then selects, executes (sequential executor), seals and commits blocks to LMDB until
the pool is empty. Prints the figures; `--json` prints them as one JSON object on the last line.

    .venv/bin/python bench/block_production.py --txs 2000 --workload transfers [--json]
"""

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from eth_account import Account
from eth_typing import Address
from eth_utils import to_canonical_address

from sidechain.attestation import Attestation, sign_attestation
from sidechain.datadir import init_dev, read_dev_accounts
from sidechain.executor.workloads import user_tx_fields
from sidechain.node import Node
from sidechain.predeploys import BRIDGE_ADDRESS


def _fund_usdt(node: Node, datadir: Path, senders: list) -> None:
    federation = read_dev_accounts(datadir / "dev-federation.json")
    for sender in senders:
        attestation = Attestation(
            os.urandom(32), 0, 1, 10**12, to_canonical_address(sender.address)
        )
        for member in federation[:2]:
            signature = sign_attestation(
                attestation, member.private_key, node.chain_id, BRIDGE_ADDRESS
            )
            node.submit_attestation(attestation, signature)
    while node.deposits.ready():
        node.produce_block()


def _sign_all(node: Node, senders: list, count: int, workload: str) -> list[bytes]:
    raws = []
    per_sender = -(-count // len(senders))
    max_fee = 2 * node.next_base_fee() + node.max_priority_fee()
    for nonce in range(per_sender):
        for index, sender in enumerate(senders):
            if len(raws) == count:
                break
            tx = user_tx_fields(
                workload,
                node.chain_id,
                nonce,
                Address((index + 1).to_bytes(20, "big")),
                1 + nonce,
                max_fee,
                node.max_priority_fee(),
            )
            raws.append(bytes(Account.sign_transaction(tx, sender.private_key).raw_transaction))
    return raws


def run(txs: int, senders_count: int, workload: str) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        datadir = Path(tmp) / "node"
        init_dev(datadir, accounts=senders_count)
        senders = read_dev_accounts(datadir / "dev-accounts.json")
        node = Node.open(datadir)
        node.mempool.limits = type(node.mempool.limits)(per_sender=txs, total=txs + 1)
        if workload == "erc20":
            _fund_usdt(node, datadir, senders)
        raws = _sign_all(node, senders, txs, workload)

        start = time.perf_counter()
        for raw in raws:
            node.send_raw_transaction(raw)
        admitted = time.perf_counter()
        blocks = 0
        gas_limit = node.head().header.gas_limit
        while node.pending_count():
            block = node.produce_block()
            blocks += 1
            assert block.transactions, "the producer made no progress"
        done = time.perf_counter()
        first = node.head().number - blocks + 1
        mined = sum(len(node.block_by_number(n).transactions) for n in range(first, first + blocks))
        node.close()
    return {
        "workload": workload,
        "txs": txs,
        "senders": senders_count,
        "blocks": blocks,
        "gas_limit": gas_limit,
        "admission_s": round(admitted - start, 3),
        "production_s": round(done - admitted, 3),
        "total_s": round(done - start, 3),
        "admission_tps": round(txs / (admitted - start), 1),
        "production_tps": round(txs / (done - admitted), 1),
        "tps": round(txs / (done - start), 1),
        "mined": mined,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--txs", type=int, default=2000)
    parser.add_argument("--senders", type=int, default=200)
    parser.add_argument("--workload", choices=("transfers", "erc20"), default="transfers")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    args = parser.parse_args()
    result = run(args.txs, args.senders, args.workload)
    print(
        f"{result['workload']}: {result['txs']} txs in {result['blocks']} blocks; "
        f"admission {result['admission_tps']} tx/s, production {result['production_tps']} tx/s, "
        f"end to end {result['tps']} tx/s ({result['total_s']} s)"
    )
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
