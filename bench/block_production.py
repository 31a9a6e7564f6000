"""Block production throughput: transactions per second through a whole `sluice node run`.

A real node process (dev chain, its default executor unless --executor is given) receives
eth-account-signed raw transactions over JSON-RPC (eth_sendRawTransaction, in batches of
--batch per HTTP request, as a busy wallet backend would send them); its mempool admits them and
its producer builds, executes, seals and commits blocks until all are mined. Signing is the
clients' work and is done before timing. The clock runs from the first request sent to the
block holding the last transaction; blocks are read as they appear (eth_getBlockByNumber).
Prints the figures and the command; `--json` prints them as one JSON object on the last line.

    .venv/bin/python bench/block_production.py [--txs 2000] [--workload transfers|erc20]
        [--executor sequential|parallel] [--json]
"""

import argparse
import json
import os
import shlex
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_typing import Address

from regtest.util import free_port
from sidechain.attestation import Attestation, sign_attestation
from sidechain.datadir import DEV_FEDERATION_FILE, init_dev, read_dev_accounts
from sidechain.executor.workloads import user_tx_fields
from sidechain.genesis import DevAccount, Genesis
from sidechain.node import DEFAULT_EXECUTOR
from sidechain.predeploys import BRIDGE_ADDRESS
from sidechain.system_tx import ASSET_USDT
from sluice.processes import ManagedProcess, answers_json_rpc, json_rpc, sluice_command

USDT_PER_SENDER = 10**12


def _batch(url: str, calls: list[tuple[str, list[Any]]]) -> list[Any]:
    """One HTTP request carrying `calls`; their results in order (an error stops the bench)."""
    body = [
        {"jsonrpc": "2.0", "id": n, "method": method, "params": params}
        for n, (method, params) in enumerate(calls)
    ]
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=300) as response:
        replies = sorted(json.loads(response.read()), key=lambda reply: reply["id"])
    failed = [reply["error"] for reply in replies if "error" in reply]
    if failed:
        raise SystemExit(f"the node refused {len(failed)} of {len(calls)} calls: {failed[0]}")
    return [reply["result"] for reply in replies]


def _fund_usdt(url: str, genesis: Genesis, datadir: Path, senders: list[DevAccount]) -> None:
    """Mint USDT to every sender through a quorum of attestations, and wait for the mints."""
    federation = read_dev_accounts(datadir / DEV_FEDERATION_FILE)[: genesis.threshold]
    calls = []
    for sender in senders:
        recipient = bytes.fromhex(sender.address[2:])
        attestation = Attestation(os.urandom(32), 0, ASSET_USDT, USDT_PER_SENDER, recipient)
        param = {
            "txid": "0x" + attestation.txid.hex(),
            "vout": "0x0",
            "asset": "USDT",
            "amount": hex(USDT_PER_SENDER),
            "recipient": sender.address,
        }
        for member in federation:
            signature = sign_attestation(
                attestation, member.private_key, genesis.chain_id, BRIDGE_ADDRESS
            )
            calls.append(("sluice_submitAttestation", [param, "0x" + signature.hex()]))
    first_block = int(json_rpc(url, "eth_blockNumber"), 16)
    _batch(url, calls)
    _wait_mined(url, first_block, len(senders))


def _sign_all(
    senders: list[DevAccount], count: int, workload: str, chain_id: int, max_fee: int, tip: int
) -> list[str]:
    """`count` signed transactions, round-robin over the senders, nonces from 0."""
    raws = []
    for nonce in range(-(-count // len(senders))):
        for index, sender in enumerate(senders[: count - len(raws)]):
            receiver = Address((index + 1).to_bytes(20, "big"))
            tx = user_tx_fields(workload, chain_id, nonce, receiver, 1 + nonce, max_fee, tip)
            signed = Account.sign_transaction(tx, sender.private_key)
            raws.append("0x" + bytes(signed.raw_transaction).hex())
    return raws


def _wait_mined(url: str, first_block: int, txs: int) -> tuple[int, int]:
    """Read each new block once until `txs` transactions were mined after `first_block`;
    returns (blocks with transactions, last block)."""
    mined, blocks, number = 0, 0, first_block
    deadline = time.monotonic() + 600
    while mined < txs:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {mined} of {txs} transactions mined after 600 s")
        head = int(json_rpc(url, "eth_blockNumber"), 16)
        while number < head:
            number += 1
            block = json_rpc(url, "eth_getBlockByNumber", hex(number), False, timeout=60)
            mined += len(block["transactions"])
            blocks += 1 if block["transactions"] else 0
        time.sleep(0.01)
    return blocks, number


def run(txs: int, senders_count: int, workload: str, executor: str | None, batch: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        datadir = Path(tmp) / "node"
        genesis, senders = init_dev(datadir, accounts=senders_count)
        port = free_port()
        options = [] if executor is None else ["--executor", executor]
        command = sluice_command(
            "node", "run", "--datadir", str(datadir), "--rpc-port", str(port), *options
        )
        node = ManagedProcess("node", command, Path(tmp) / "node.log")
        url = f"http://127.0.0.1:{port}"
        node.start(answers_json_rpc(url), timeout=120)
        try:
            if workload == "erc20":
                _fund_usdt(url, genesis, datadir, senders)
            tip = int(json_rpc(url, "eth_maxPriorityFeePerGas"), 16)
            max_fee = 2 * int(json_rpc(url, "eth_gasPrice"), 16)
            raws = _sign_all(senders, txs, workload, genesis.chain_id, max_fee, tip)
            first_block = int(json_rpc(url, "eth_blockNumber"), 16)

            start = time.perf_counter()
            for offset in range(0, len(raws), batch):
                chunk = raws[offset : offset + batch]
                _batch(url, [("eth_sendRawTransaction", [raw]) for raw in chunk])
            submitted = time.perf_counter()
            blocks, last_block = _wait_mined(url, first_block, txs)
            done = time.perf_counter()
        finally:
            node.stop()
    return {
        "workload": workload,
        "txs": txs,
        "senders": senders_count,
        "executor": executor or DEFAULT_EXECUTOR,
        "batch": batch,
        "blocks": blocks,
        "last_block": last_block,
        "submission_s": round(submitted - start, 3),
        "total_s": round(done - start, 3),
        "tps": round(txs / (done - start), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--txs", type=int, default=2000)
    parser.add_argument("--senders", type=int, default=200)
    parser.add_argument("--workload", choices=("transfers", "erc20"), default="transfers")
    parser.add_argument(
        "--executor",
        choices=("sequential", "parallel"),
        help=f"the node's block executor (default: the node's own, {DEFAULT_EXECUTOR})",
    )
    parser.add_argument("--batch", type=int, default=100, help="transactions per HTTP request")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    args = parser.parse_args()
    result = run(args.txs, args.senders, args.workload, args.executor, args.batch)
    print(f"command: {shlex.join([sys.executable, *sys.argv])}")
    print(
        f"{result['workload']}: {result['txs']} txs through `sluice node run` "
        f"(executor {result['executor']}) in {result['blocks']} blocks: {result['tps']} tx/s "
        f"end to end ({result['total_s']} s; submission took {result['submission_s']} s)"
    )
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
