"""The deposit scanner on a real bitcoind: 100 BTC and USDT deposits, minimums, a reorg, a restart.

Rule under test: every payment to a known deposit address gets exactly one ledger row, in the
status its chain position and the bridge's rules give it: accepted ones `seen` then
`confirmed` at the depth, refused ones `rejected` with their reason, those whose block left
the best chain `reorged`, and those mined again `seen` in their new block.
"""

import logging
from dataclasses import dataclass, replace
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bridge.bitcoin.deposit_script import DepositScript
from bridge.bitcoin.payments import DepositRules, Federation
from bridge.bitcoin.rpc import BitcoinRPC
from bridge.bitcoin.scanner import DepositScanner, ScannerSettings
from bridge.ledger import DuplicateRecord, Ledger
from bridge.ledger.models import Deposit
from bridge.ledger.states import Asset, DepositStatus, RejectReason
from regtest.node import BitcoindNode
from regtest.omni import issue_usdt, send_usdt

log = logging.getLogger(__name__)

USDT = 100_000_000
MIN_BTC = 10_000
DEPTH = 3
FEDERATION = [
    bytes.fromhex(k)
    for k in (
        "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
        "02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5",
        "02f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9",
    )
]


@dataclass(frozen=True)
class Paid:
    """One payment made by the test, and how the bridge must judge it."""

    txid: str
    vout: int
    asset: Asset
    amount: int
    property_id: int | None
    reason: RejectReason | None


def client(node: BitcoindNode) -> BitcoinRPC:
    return BitcoinRPC(node.rpc_url, user=node.rpc_user, password=node.rpc_password)


def make_addresses(sessions: sessionmaker[Session], count: int) -> list[str]:
    addresses = []
    with sessions.begin() as session:
        ledger = Ledger(session)
        for n in range(count):
            script = DepositScript.create(f"0x{n + 1:040x}", FEDERATION, 2)
            address = script.address("regtest")
            ledger.deposit_addresses.add(address, script.witness_script.hex(), f"0x{n + 1:040x}")
            addresses.append(address)
    return addresses


def pay_btc(node: BitcoindNode, amounts: dict[str, int]) -> list[Paid]:
    txid = node.sendmany("", {a: Decimal(sats) / USDT for a, sats in amounts.items()})
    outputs = node.getrawtransaction(txid, True)["vout"]
    vout = {o["scriptPubKey"].get("address"): o["n"] for o in outputs}
    return [
        Paid(
            txid,
            vout[a],
            Asset.BTC,
            sats,
            None,
            RejectReason.BELOW_MINIMUM if sats < MIN_BTC else None,
        )
        for a, sats in amounts.items()
    ]


def pay_usdt(
    node: BitcoindNode, address: str, amount: int, property_id: int, reason: RejectReason | None
) -> Paid:
    txid = send_usdt(node, address, amount, property_id=property_id)
    return Paid(txid, 1, Asset.USDT, amount, property_id, reason)  # vout 1: the reference


def mine_only(node: BitcoindNode, txids: set[str]) -> str:
    """Mine one block holding `txids` and their unconfirmed ancestors, nothing else."""
    wanted = set(txids)
    for txid in txids:
        wanted.update(node.getmempoolancestors(txid))
    mempool = node.getrawmempool(True)
    ordered = sorted(wanted, key=lambda txid: mempool[txid]["ancestorcount"])
    return str(node.generateblock(node.new_address(), ordered)["hash"])


def rows(sessions: sessionmaker[Session]) -> set[tuple]:
    with sessions() as session:
        return {
            (
                d.id,
                d.asset,
                d.amount,
                d.omni_property_id,
                d.status,
                d.reject_reason,
                d.confirmations,
                d.block_hash,
            )
            for d in session.scalars(select(Deposit))
        }


def expected(payments: list[Paid], status: DepositStatus, confirmations: int, block: str) -> set:
    """The rows of `payments` in `status`; refused ones are `rejected` unless reorged."""
    return {
        (
            f"{p.txid}:{p.vout}",
            p.asset,
            p.amount,
            p.property_id,
            DepositStatus.REJECTED if p.reason and status != DepositStatus.REORGED else status,
            p.reason,
            confirmations,
            block,
        )
        for p in payments
    }


def btc_amount(n: int) -> int:
    """Sats for the n-th output of a block-B payment: every 4th is below the minimum."""
    return 3_000 + n if n % 4 == 3 else 30_000 + n


async def test_hundred_deposits_through_a_reorg_and_a_restart(
    bitcoind: BitcoindNode, ledger_sessions_factory: sessionmaker[Session]
):
    sessions = ledger_sessions_factory
    node = bitcoind
    log.info("issue USDT and another property; register 40 deposit addresses")
    usdt = issue_usdt(node, 10_000 * USDT)
    other = issue_usdt(node, 1_000 * USDT, name="Other token")
    addresses = make_addresses(sessions, 40)
    start = node.getblockcount() + 1
    settings = ScannerSettings(
        DepositRules(usdt_property_id=usdt, min_btc_sats=MIN_BTC, min_usdt=USDT),
        confirmations=DEPTH,
        start_height=start,
    )
    rpc = client(node)

    log.info("block A: 36 BTC payments (8 below the minimum) and 14 USDT sends")
    a = pay_btc(node, {addr: 20_000 + 1_000 * n for n, addr in enumerate(addresses[:14])})
    a += pay_btc(node, {addr: 5_000 + n for n, addr in enumerate(addresses[14:22])})
    a += pay_btc(node, {addr: 50_000 * (n + 1) for n, addr in enumerate(addresses[22:36])})
    a += [pay_usdt(node, addresses[n], (n + 2) * USDT, usdt, None) for n in range(9)]
    a += [
        pay_usdt(node, addresses[n], USDT // 2, usdt, RejectReason.BELOW_MINIMUM)
        for n in range(9, 12)
    ]
    a.append(pay_usdt(node, addresses[12], 10**15, usdt, RejectReason.INVALID_OMNI))
    a.append(pay_usdt(node, addresses[13], 5 * USDT, other, RejectReason.UNKNOWN_PROPERTY))
    (block_a,) = node.mine(1)

    async with rpc:
        scanner = DepositScanner(rpc, sessions, settings)
        done = await scanner.execute()
        assert done.done and done.checkpoint.hash == block_a
        assert rows(sessions) == expected(a, DepositStatus.SEEN, 1, block_a)

        log.info("block B: 30 BTC payments (6 below the minimum) in 3 txs and 20 USDT sends")
        groups = [addresses[10 * k : 10 * k + 10] for k in range(3)]
        b_btc = [pay_btc(node, {ad: btc_amount(n) for n, ad in enumerate(g)}) for g in groups]
        b_usdt = [pay_usdt(node, addresses[n], (n + 1) * USDT, usdt, None) for n in range(16)]
        b_usdt += [
            pay_usdt(node, addresses[n], USDT - 1, usdt, RejectReason.BELOW_MINIMUM)
            for n in range(16, 20)
        ]
        b = [p for group in b_btc for p in group] + b_usdt
        (block_b,) = node.mine(1)
        await scanner.execute()
        assert len(a) + len(b) == 100
        assert rows(sessions) == (
            expected(a, DepositStatus.SEEN, 2, block_a)
            | expected(b, DepositStatus.SEEN, 1, block_b)
        )

        log.info("reorg: invalidate block B; its deposits become reorged")
        node.invalidate(block_b)
        await scanner.execute()
        assert rows(sessions) == (
            expected(a, DepositStatus.SEEN, 1, block_a)
            | expected(b, DepositStatus.REORGED, 1, block_b)
        )

        log.info("bring back 2 of the 3 BTC txs and half the USDT sends in block B'")
        chosen = {b_btc[0][0].txid, b_btc[2][0].txid} | {p.txid for p in b_usdt[::2]}
        block_b2 = mine_only(node, chosen)
        block_c = str(node.generateblock(node.new_address(), [])["hash"])
        in_b2 = set(node.getblock(block_b2)["tx"])
        back = [p for p in b if p.txid in in_b2]
        gone = [p for p in b if p.txid not in in_b2]
        assert len(back) >= 30 and gone

    log.info("restart: a new scanner resumes from the ledger's checkpoint")
    async with client(node) as rpc:
        restarted = DepositScanner(rpc, sessions, settings)
        done = await restarted.execute()
    assert done.checkpoint.hash == block_c
    assert rows(sessions) == (
        expected(a, DepositStatus.CONFIRMED, 3, block_a)
        | expected(back, DepositStatus.SEEN, 2, block_b2)
        | expected(gone, DepositStatus.REORGED, 1, block_b)
    )
    with sessions() as session:
        counts = Ledger(session).deposits.count_by_status()
    log.info("final statuses: %s", counts)
    assert sum(counts.values()) == 100


def settings_from_next_block(node: BitcoindNode, usdt: int = 31) -> ScannerSettings:
    start = node.getblockcount() + 1
    rules = DepositRules(usdt_property_id=usdt, min_btc_sats=MIN_BTC, min_usdt=USDT)
    return ScannerSettings(rules, confirmations=DEPTH, start_height=start, omni_start_height=start)


async def test_a_deposit_to_an_earlier_federations_address_is_rejected_as_bad_script(
    bitcoind: BitcoindNode, ledger_sessions_factory: sessionmaker[Session]
):
    """An address made before the federation changed (one key replaced) still gets paid: the
    payment is recorded rejected, bad_script, with why; the one to today's address is seen."""
    sessions = ledger_sessions_factory
    base = settings_from_next_block(bitcoind)
    today = Federation(frozenset(FEDERATION), 2)
    settings = replace(base, rules=replace(base.rules, federation=today))
    (current,) = make_addresses(sessions, 1)
    replaced_key = bytes.fromhex(
        "02e493dbf1c10d80f3581e4904930b1404cc6c13900ee0758474fa94abe8c4cd13"
    )
    earlier = DepositScript.create("0x" + "77" * 20, [*FEDERATION[:2], replaced_key], 2)
    with sessions.begin() as session:
        Ledger(session).deposit_addresses.add(
            earlier.address("regtest"), earlier.witness_script.hex(), "0x" + "77" * 20
        )
    fine, bad = pay_btc(bitcoind, {current: 60_000, earlier.address("regtest"): 60_000})
    bad = replace(bad, reason=RejectReason.BAD_SCRIPT)
    (block,) = bitcoind.mine(1)
    async with client(bitcoind) as rpc:
        await DepositScanner(rpc, sessions, settings).execute()
    assert rows(sessions) == expected([fine, bad], DepositStatus.SEEN, 1, block)
    with sessions() as session:
        (entry,) = [
            e
            for e in Ledger(session).audit.for_record("deposit", f"{bad.txid}:{bad.vout}")
            if e.to_status == DepositStatus.REJECTED
        ]
    assert "federation that is not the bridge's current one" in entry.detail["message"]


async def test_address_handed_out_after_the_scan_started_is_recognised(
    bitcoind: BitcoindNode, ledger_sessions_factory: sessionmaker[Session]
):
    sessions = ledger_sessions_factory
    settings = settings_from_next_block(bitcoind)
    async with client(bitcoind) as rpc:
        scanner = DepositScanner(rpc, sessions, settings)
        bitcoind.mine(1)
        await scanner.execute()
        (address,) = make_addresses(sessions, 1)
        (paid,) = pay_btc(bitcoind, {address: 70_000})
        (block,) = bitcoind.mine(1)
        await scanner.execute()
    assert rows(sessions) == expected([paid], DepositStatus.SEEN, 1, block)


async def test_a_block_that_fails_to_record_writes_nothing_and_is_retried(
    bitcoind: BitcoindNode, ledger_sessions_factory: sessionmaker[Session]
):
    sessions = ledger_sessions_factory
    settings = settings_from_next_block(bitcoind)
    (address,) = make_addresses(sessions, 1)
    (paid,) = pay_btc(bitcoind, {address: 80_000})
    (block,) = bitcoind.mine(1)
    with sessions.begin() as session:  # the same outpoint already recorded: the block must fail
        Ledger(session).deposits.record_seen(
            txid=paid.txid,
            vout=paid.vout,
            asset=Asset.BTC,
            amount=1,
            deposit_address=address,
            block_height=0,
            block_hash="00" * 32,
            confirmations=1,
        )
    async with client(bitcoind) as rpc:
        scanner = DepositScanner(rpc, sessions, settings)
        with pytest.raises(DuplicateRecord):
            await scanner.execute()
        assert scanner.checkpoint() is None
        assert scanner.omni.checkpoint() is None  # its Omni indexing was undone too
        with sessions() as session:
            assert Ledger(session).blocks.tip() is None
        with sessions.begin() as session:
            session.delete(session.get(Deposit, f"{paid.txid}:{paid.vout}"))
        await scanner.execute()
    assert rows(sessions) == expected([paid], DepositStatus.SEEN, 1, block)


async def test_reorg_deeper_than_the_depth_is_logged_and_undone_when_the_block_returns(
    bitcoind: BitcoindNode, ledger_sessions_factory: sessionmaker[Session], caplog
):
    sessions = ledger_sessions_factory
    settings = settings_from_next_block(bitcoind)
    (address,) = make_addresses(sessions, 1)
    (paid,) = pay_btc(bitcoind, {address: 90_000})
    block, *_ = bitcoind.mine(DEPTH)
    tip = bitcoind.getbestblockhash()
    async with client(bitcoind) as rpc:
        scanner = DepositScanner(rpc, sessions, settings)
        await scanner.execute()
        assert rows(sessions) == expected([paid], DepositStatus.CONFIRMED, DEPTH, block)

        bitcoind.invalidate(block)
        with caplog.at_level(logging.ERROR, logger="bridge.bitcoin.scanner"):
            await scanner.execute()
        assert rows(sessions) == expected([paid], DepositStatus.REORGED, DEPTH, block)
        assert "deeper than the depth" in caplog.text and paid.txid in caplog.text

        bitcoind.reconsider(block)
        done = await scanner.execute()
    assert done.checkpoint.hash == tip
    assert rows(sessions) == expected([paid], DepositStatus.CONFIRMED, DEPTH, block)
