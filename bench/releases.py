"""Benchmark: withdrawals per release transaction, and the time to build and sign one release.

Starts its own regtest bitcoind and a 2-of-3 federation in this process (each member with its
own SQLite ledger and a signing server on loopback), the vault funded with ten 1-BTC deposits
recorded as minted in every ledger (the scenarios with relayer processes and real deposits are
in tests/relayer/releases; this measures the release path alone). For each batch size it
records that many ready BTC withdrawals in every ledger, then times, on the coordinator:

  build   the vault's coins (gettxout over the ledger's coins) + the transaction and its PSBT
  sign    the signing round: its own checks and signatures, then a peer's over HTTP
          (each member checks every output against its own ledger and bitcoind first)
  total   build + sign + finalise + sendrawtransaction

and prints withdrawals per transaction, vbytes per withdrawal and fee per withdrawal.

    .venv/bin/python bench/releases.py [--batches 10,50,200] [--json]
"""

import argparse
import asyncio
import contextlib
import json
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from coincurve import PrivateKey
from eth_account import Account

from bridge.bitcoin.deposit_script import DepositScript
from bridge.bitcoin.rpc import BitcoinRPC
from bridge.ledger import Asset, DepositStatus, Ledger, WithdrawalStatus, ledger_sessions
from bridge.ledger.testing import sqlite_ledger
from regtest.binaries import install
from regtest.node import BitcoindNode
from regtest.util import free_port
from relayer.keys import MemberKeys
from relayer.release import SpendRunner
from relayer.release_build import Payout, SpendRules, build_spend
from relayer.release_check import SpendChecker, SpendProposal
from relayer.signing import BridgeDomain, Peer, SigningMember, finalize
from relayer.signing_client import Federation, PeerClient
from relayer.signing_server import SigningServer
from relayer.vault import Vault, VaultSettings
from sidechain.system_tx import WEI_PER_SAT

THRESHOLD = 2
USDT_PROPERTY = 3
FEE_RATE = 2_000  # sat per 1000 vbytes: the default fee floor


@dataclass
class Local:
    sessions: Any
    vault: Vault
    federation: Federation
    runner: SpendRunner


async def no_state_root(_height: int) -> str | None:
    return None  # this benchmark anchors no commitments


@contextlib.asynccontextmanager
async def federation(node: BitcoindNode, workdir: Path) -> AsyncIterator[list[Local]]:
    keys = [MemberKeys(n, PrivateKey(), Account.create()) for n in range(3)]
    settings = VaultSettings(
        tuple(k.bitcoin_public for k in keys), THRESHOLD, "regtest", USDT_PROPERTY
    )
    rules = SpendRules(usdt_property_id=USDT_PROPERTY)
    ports = [free_port() for _ in keys]
    peers = [Peer(k.address, f"http://127.0.0.1:{ports[n]}") for n, k in enumerate(keys)]
    members: list[Local] = []
    cleanup: list[Any] = []
    for n, key in enumerate(keys):
        sessions = ledger_sessions(sqlite_ledger(workdir, f"member{n}.sqlite3"))
        rpc = BitcoinRPC(node.rpc_url, user=node.rpc_user, password=node.rpc_password)
        checker = SpendChecker(settings, rules, rpc, no_state_root)
        member = SigningMember(key, sessions, rpc, checker, BridgeDomain(1, bytes(20)))
        others = [p for p in peers if p.address != key.address]
        server = SigningServer(member, others, "127.0.0.1", ports[n])
        await server.start()
        client = PeerClient(key)
        group = Federation(member, others, client, THRESHOLD, rotation_blocks=10)
        members.append(
            Local(
                sessions, Vault(settings, sessions, rpc), group, SpendRunner(group, sessions, rpc)
            )
        )
        cleanup += [server.stop, client.close, rpc.close]
    try:
        yield members
    finally:
        for close in reversed(cleanup):
            await close()


def fund_vault(node: BitcoindNode, members: list[Local], deposits: int, btc: str) -> None:
    """`deposits` BTC deposits to the vault, recorded as minted in every ledger."""
    keys = members[0].vault.settings.federation_keys
    for n in range(deposits):
        script = DepositScript.create(f"0x{n + 1:040x}", keys, THRESHOLD)
        address = script.address("regtest")
        txid = node.fund(address, Decimal(btc))
        node.mine(1)
        tx = node.getrawtransaction(txid, True)
        (vout,) = (o["n"] for o in tx["vout"] if o["scriptPubKey"].get("address") == address)
        for member in members:
            with member.sessions.begin() as session:
                ledger = Ledger(session)
                ledger.deposit_addresses.add(
                    address, script.witness_script.hex(), f"0x{n + 1:040x}"
                )
                deposit = ledger.deposits.record_seen(
                    txid=txid,
                    vout=vout,
                    asset=Asset.BTC,
                    amount=int(Decimal(btc) * 10**8),
                    deposit_address=address,
                    block_height=1,
                    block_hash=tx["blockhash"],
                    confirmations=6,
                )
                for status in (DepositStatus.CONFIRMED, DepositStatus.ATTESTED):
                    ledger.deposits.move(deposit.id, status)
                ledger.deposits.mark_minted(deposit.id, "0x" + "11" * 32, 1)


def ready_withdrawals(
    node: BitcoindNode, members: list[Local], count: int, offset: int
) -> list[Payout]:
    payouts = []
    for n in range(count):
        address = node.new_address()
        script = bytes.fromhex(node.validateaddress(address)["scriptPubKey"])
        withdrawal_id = f"0x{offset + n + 1:064x}"
        payouts.append(Payout(withdrawal_id, Asset.BTC, 10_000 + n, script))
        for member in members:
            with member.sessions.begin() as session:
                ledger = Ledger(session)
                ledger.withdrawals.record_requested(
                    withdrawal_id=withdrawal_id,
                    sender="0x" + "5e" * 20,
                    asset=Asset.BTC,
                    amount=10_000 + n,
                    burned_amount=(10_000 + n) * WEI_PER_SAT,
                    bitcoin_address=address,
                    sidechain_tx_hash=f"0x{offset + n + 1:064x}",
                    sidechain_block=1,
                    log_index=0,
                )
                ledger.withdrawals.open_window(withdrawal_id, 1, 1)
                ledger.withdrawals.move(withdrawal_id, WithdrawalStatus.READY)
    return payouts


async def one_release(
    node: BitcoindNode, members: list[Local], size: int, offset: int
) -> dict[str, Any]:
    payouts = ready_withdrawals(node, members, size, offset)
    coordinator = members[0]
    started = time.perf_counter()
    coins = await coordinator.vault.coins()
    plan = build_spend(
        payouts,
        coins.funding,
        coordinator.vault.settings.change,
        FEE_RATE,
        SpendRules(USDT_PROPERTY),
    )
    built = time.perf_counter()
    proposal = SpendProposal(plan.psbt, plan.payments, plan.fee_rate)
    signed = await coordinator.federation.sign_spend(proposal)
    tx = finalize(signed)
    signed_at = time.perf_counter()
    await asyncio.to_thread(node.send_raw, tx.serialize().hex())
    done = time.perf_counter()
    vsize = node.rpc("decoderawtransaction", tx.serialize().hex(), wallet=False)["vsize"]
    node.mine(1)
    return {
        "withdrawals_per_tx": len(plan.payments),
        "inputs": len(tx.vin),
        "vbytes": vsize,
        "vbytes_per_withdrawal": round(vsize / size, 1),
        "fee_sats": plan.fee,
        "fee_per_withdrawal_sats": round(plan.fee / size, 1),
        "build_ms": round((built - started) * 1000, 1),
        "sign_ms": round((signed_at - built) * 1000, 1),
        "total_ms": round((done - started) * 1000, 1),
    }


async def main(batches: list[int]) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        node = BitcoindNode(Path(tmp) / "bitcoind", install())
        node.start()
        try:
            node.mine_to_maturity()
            async with federation(node, Path(tmp)) as members:
                fund_vault(node, members, deposits=10, btc="1")
                results, offset = [], 0
                for size in batches:
                    results.append(await one_release(node, members, size, offset))
                    offset += size
                return results
        finally:
            node.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--batches", default="10,50,200", help="withdrawals per release, comma-separated"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    figures = asyncio.run(main([int(b) for b in args.batches.split(",")]))
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        columns = list(figures[0]) if figures else []
        print("  ".join(f"{c:>24}" for c in columns))
        for row in figures:
            print("  ".join(f"{row[c]!s:>24}" for c in columns))
