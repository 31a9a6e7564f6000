"""The rescan for learned addresses (bridge.bitcoin.rescan) on a real bitcoind, SQLite and
PostgreSQL.

Rule under test: a deposit address stored after the scanner passed the block that paid it
(learned from a peer, or from the API) is looked for again in the blocks scanned within
`rescan_blocks` below the tip; each payment found is recorded once, in the status its chain
position gives it, however often the blocks are read, across restarts and a kill -9 at any
commit of the rescan.
"""

import dataclasses
import json
import logging
import secrets
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bridge.bitcoin.deposit_script import DepositScript
from bridge.bitcoin.rescan import RESCAN_AT, RESCANNED, RESCANNING
from bridge.bitcoin.scanner import DepositScanner, ScannerSettings
from bridge.ledger import Ledger
from bridge.ledger.models import AuditEntry
from bridge.ledger.states import DepositStatus, RejectReason
from regtest.node import BitcoindNode
from regtest.omni import issue_usdt
from tests.bridge.bitcoin.test_deposit_scanner import (
    DEPTH,
    FEDERATION,
    USDT,
    client,
    expected,
    pay_btc,
    pay_usdt,
    rows,
    settings_from_next_block,
)

log = logging.getLogger(__name__)
SCANNER_PROCESS = Path(__file__).with_name("scanner_process.py")
MAX_STEPS = 1000


def deposit_script() -> DepositScript:
    return DepositScript.create("0x" + secrets.token_hex(20), FEDERATION, 2)


def learn(sessions: sessionmaker[Session], script: DepositScript) -> None:
    """Store the address as a member does when a peer announces it (or its API makes it)."""
    with sessions.begin() as session:
        Ledger(session).deposit_addresses.add(
            script.address("regtest"), script.witness_script.hex(), "0x" + script.recipient.hex()
        )


async def scan_to_the_end(scanner: DepositScanner) -> int:
    """Execute until the scanner is at the tip with no rescan left; returns the steps taken."""
    for step in range(1, MAX_STEPS + 1):
        if (await scanner.execute()).done:
            return step
    raise AssertionError(f"the scanner was not done after {MAX_STEPS} steps")


def deposits_created(sessions: sessionmaker[Session]) -> int:
    query = select(func.count()).where(
        AuditEntry.record_kind == "deposit", AuditEntry.action == "created"
    )
    with sessions() as session:
        return int(session.scalar(query) or 0)


def cursor(sessions: sessionmaker[Session], name: str) -> int:
    with sessions() as session:
        return Ledger(session).cursors.position(name, -1)


async def test_an_address_learned_after_its_payment_passed_the_depth_is_found_once(
    bitcoind: BitcoindNode, ledger_sessions_factory: sessionmaker[Session]
) -> None:
    """BTC and a refused BTC payment learned while the scanner runs; a USDT payment learned
    after a restart (its Omni results rebuilt by the catch-up)."""
    sessions = ledger_sessions_factory
    base = settings_from_next_block(bitcoind)
    usdt = issue_usdt(bitcoind, 1_000 * USDT)
    # Omni numbers properties from the first one on the chain: index from the genesis.
    rules = replace(base.rules, usdt_property_id=usdt)
    settings = replace(base, rules=rules, omni_start_height=0)
    btc_script, small_script, usdt_script = deposit_script(), deposit_script(), deposit_script()
    async with client(bitcoind) as rpc:
        scanner = DepositScanner(rpc, sessions, settings)
        await scan_to_the_end(scanner)
        log.info("pay three addresses no ledger knows; mine past the depth; scan")
        btc, small = pay_btc(
            bitcoind,
            {btc_script.address("regtest"): 70_000, small_script.address("regtest"): 3_000},
        )
        small = replace(small, reason=RejectReason.BELOW_MINIMUM)
        token = pay_usdt(bitcoind, usdt_script.address("regtest"), 5 * USDT, usdt, None)
        (block,) = bitcoind.mine(1)
        bitcoind.mine(DEPTH)
        await scan_to_the_end(scanner)
        assert rows(sessions) == set()

        log.info("learn the BTC addresses: the rescan records both payments at the depth")
        learn(sessions, btc_script)
        learn(sessions, small_script)
        await scan_to_the_end(scanner)
        assert rows(sessions) == expected([btc, small], DepositStatus.CONFIRMED, DEPTH, block)

    log.info("restart, then learn the USDT address")
    async with client(bitcoind) as rpc:
        restarted = DepositScanner(rpc, sessions, settings)
        learn(sessions, usdt_script)
        await scan_to_the_end(restarted)
        everything = expected([btc, small, token], DepositStatus.CONFIRMED, DEPTH, block)
        assert rows(sessions) == everything
        bitcoind.mine(1)
        await scan_to_the_end(restarted)
    assert rows(sessions) == everything
    assert deposits_created(sessions) == 3
    assert cursor(sessions, RESCANNED) == cursor(sessions, RESCANNING)


async def test_the_rescan_looks_back_rescan_blocks_below_the_tip(
    bitcoind: BitcoindNode, ledger_sessions_factory: sessionmaker[Session]
) -> None:
    sessions = ledger_sessions_factory
    settings = replace(settings_from_next_block(bitcoind), rescan_blocks=4)
    old_script, recent_script = deposit_script(), deposit_script()
    (old,) = pay_btc(bitcoind, {old_script.address("regtest"): 80_000})
    bitcoind.mine(1)
    bitcoind.mine(4)
    (recent,) = pay_btc(bitcoind, {recent_script.address("regtest"): 81_000})
    (block,) = bitcoind.mine(1)
    bitcoind.mine(DEPTH - 1)  # the tip: the recent payment's 3rd block, the old one's 8th
    async with client(bitcoind) as rpc:
        scanner = DepositScanner(rpc, sessions, settings)
        await scan_to_the_end(scanner)
        learn(sessions, old_script)
        learn(sessions, recent_script)
        await scan_to_the_end(scanner)
    assert rows(sessions) == expected([recent], DepositStatus.CONFIRMED, DEPTH, block)
    assert old.txid not in {row[0].split(":")[0] for row in rows(sessions)}


async def test_a_deposit_the_rescan_found_is_reorged_and_restored_like_any_other(
    bitcoind: BitcoindNode, ledger_sessions_factory: sessionmaker[Session]
) -> None:
    sessions = ledger_sessions_factory
    settings = settings_from_next_block(bitcoind)
    script = deposit_script()
    bitcoind.mine(1)  # the scan's first block stays when the payment's goes
    (paid,) = pay_btc(bitcoind, {script.address("regtest"): 82_000})
    block, *_ = bitcoind.mine(DEPTH)
    async with client(bitcoind) as rpc:
        scanner = DepositScanner(rpc, sessions, settings)
        await scan_to_the_end(scanner)
        learn(sessions, script)
        await scan_to_the_end(scanner)
        assert rows(sessions) == expected([paid], DepositStatus.CONFIRMED, DEPTH, block)
        bitcoind.invalidate(block)
        await scan_to_the_end(scanner)
        assert rows(sessions) == expected([paid], DepositStatus.REORGED, DEPTH, block)
        bitcoind.reconsider(block)
        await scan_to_the_end(scanner)
    assert rows(sessions) == expected([paid], DepositStatus.CONFIRMED, DEPTH, block)
    assert deposits_created(sessions) == 1


def run_scanner_process(
    node: BitcoindNode, ledger_url: str, settings: ScannerSettings, kill: dict | None
) -> int:
    fields = dataclasses.asdict(settings)
    args = {
        "rpc_url": node.rpc_url,
        "user": node.rpc_user,
        "password": node.rpc_password,
        "ledger_url": ledger_url,
        "settings": fields,
        "kill": kill,
    }
    done = subprocess.run(
        [sys.executable, str(SCANNER_PROCESS), json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    log.info("scanner process exited %d %s", done.returncode, done.stderr[-2000:])
    return done.returncode


@pytest.mark.parametrize("at", ["before_commit", "after_commit"])
async def test_a_scanner_killed_during_the_rescan_resumes_and_records_the_deposit_once(
    bitcoind: BitcoindNode, ledger_sessions_factory: sessionmaker[Session], at: str
) -> None:
    """Steps of two heights: the payment is in the second; kill -9 at its commit."""
    sessions = ledger_sessions_factory
    settings = replace(settings_from_next_block(bitcoind), batch_size=2)
    start = settings.start_height
    script = deposit_script()
    bitcoind.mine(2)
    (paid,) = pay_btc(bitcoind, {script.address("regtest"): 83_000})
    (block,) = bitcoind.mine(1)  # at start + 2
    bitcoind.mine(5)
    async with client(bitcoind) as rpc:
        await scan_to_the_end(DepositScanner(rpc, sessions, settings))
    learn(sessions, script)
    engine = sessions.kw["bind"]
    url = engine.url.render_as_string(hide_password=False)

    log.info("kill -9 %s of the second rescan step", at)
    assert run_scanner_process(bitcoind, url, settings, {"at": at, "step": 2}) == -9
    if at == "before_commit":
        assert cursor(sessions, RESCAN_AT) == start + 2
        assert rows(sessions) == set()
    else:
        assert cursor(sessions, RESCAN_AT) == start + 4
        assert rows(sessions) == expected([paid], DepositStatus.CONFIRMED, DEPTH, block)
    assert cursor(sessions, RESCANNED) < cursor(sessions, RESCANNING)

    log.info("restarted, the scanner finishes the rescan")
    assert run_scanner_process(bitcoind, url, settings, None) == 0
    assert rows(sessions) == expected([paid], DepositStatus.CONFIRMED, DEPTH, block)
    assert deposits_created(sessions) == 1
    assert cursor(sessions, RESCANNED) == cursor(sessions, RESCANNING)
