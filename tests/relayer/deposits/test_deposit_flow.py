"""Deposits end to end: real bitcoind, real node, three relayer processes (2-of-3, depth 2).

The tests share one stack and run in file order; each makes its own deposits and checks them.
"""

import logging
import secrets
import time

from sqlalchemy.orm import Session, sessionmaker

from bridge.ledger import DepositStatus, Ledger
from regtest.node import BitcoindNode
from regtest.omni import send_usdt
from relayer.api.bridge_state import pause_state
from relayer.testing import LocalFederation, pay_btc
from sidechain.attestation import Attestation, sign_attestation
from sidechain.genesis import DEV_CHAIN_ID as CHAIN_ID
from sidechain.predeploys import BRIDGE_ADDRESS
from tests.relayer.deposits.conftest import attestation_json, new_recipient, reorg_out

log = logging.getLogger(__name__)
WEI_PER_SAT = 10**10
DEPTH = 2
USDT_SENDS_PER_BLOCK = 10


def deposit_ids_of(federation: LocalFederation, recipients: set[str]) -> set[str]:
    """The deposit ids the Bridge minted for these recipients."""
    lowered = {r.lower() for r in recipients}
    return {e.deposit_id for e in federation.deposited_events() if e.recipient in lowered}


def make_deposits(
    chain: BitcoindNode, federation: LocalFederation, btc: int, usdt: int, property_id: int
) -> dict[str, tuple[str, int]]:
    """`btc` BTC and `usdt` USDT deposits to fresh recipients: {recipient: (asset, amount)}."""
    expected: dict[str, tuple[str, int]] = {}
    payments: dict[str, int] = {}
    for index in range(btc):
        recipient = new_recipient()
        sats = 50_000 + index
        payments[federation.register_address(recipient)] = sats
        expected[recipient] = ("BTC", sats)
    if payments:
        pay_btc(chain, payments)
    for index in range(usdt):
        if index and index % USDT_SENDS_PER_BLOCK == 0:
            chain.mine(1)  # the issuer's sends chain through its change: stay under 25
        recipient = new_recipient()
        units = 2_000_000 + index
        send_usdt(chain, federation.register_address(recipient), units, property_id=property_id)
        expected[recipient] = ("USDT", units)
    return expected


def credited(federation: LocalFederation, recipient: str, asset: str) -> int:
    if asset == "BTC":
        return federation.balance_wei(recipient) // WEI_PER_SAT
    return federation.usdt_balance(recipient)


def all_credited(federation: LocalFederation, expected: dict[str, tuple[str, int]]) -> bool:
    return all(credited(federation, r, a) == amount for r, (a, amount) in expected.items())


def assert_minted_once(federation: LocalFederation, expected: dict[str, tuple[str, int]]) -> None:
    events = federation.deposited_events()
    ids = [e.deposit_id for e in events]
    assert len(ids) == len(set(ids)), "a deposit id was minted twice"
    mine = [e for e in events if e.recipient in {r.lower() for r in expected}]
    assert len(mine) == len(expected)
    for event in mine:
        recipient = next(r for r in expected if r.lower() == event.recipient)
        asset, amount = expected[recipient]
        assert (event.asset, event.amount) == ({"BTC": 0, "USDT": 1}[asset], amount)
        assert credited(federation, recipient, asset) == amount


def test_fifty_deposits_mint_exactly_fifty_times_to_the_right_recipients(
    chain: BitcoindNode, federation: LocalFederation, usdt_property: tuple[int, int]
) -> None:
    expected = make_deposits(chain, federation, btc=25, usdt=25, property_id=usdt_property[0])
    log.info("50 deposits paid; mining %d blocks", DEPTH)
    chain.mine(DEPTH)
    federation.wait_until(lambda: all_credited(federation, expected), timeout=180)
    assert_minted_once(federation, expected)
    ids = deposit_ids_of(federation, set(expected))
    for member in (1, 2, 3):
        federation.wait_until(lambda m=member: federation.minted_in_ledger(m, ids))


CRASH_POINTS = ("after_scan", "after_attest", "after_submit", "after_mint")


def test_a_member_killed_at_each_step_resumes_without_loss_or_double_mint(
    chain: BitcoindNode, federation: LocalFederation, usdt_property: tuple[int, int]
) -> None:
    """Member 3 is stopped, so every mint needs member 1, which crashes at each point."""
    federation.relayer(3).stop()
    member = federation.relayer(1)
    try:
        for point in CRASH_POINTS:
            log.info("member 1 will exit at %s", point)
            assert member.stop() == 0  # SIGTERM: a clean shutdown
            member.start(crash_at=point)
            expected = make_deposits(chain, federation, 1, 1, usdt_property[0])
            chain.mine(DEPTH)
            assert member.wait_exit(timeout=90) == 137
            assert f"crash_at={point}" in member.log_text()
            member.start()
            federation.wait_until(lambda e=expected: all_credited(federation, e))
            assert_minted_once(federation, expected)
            ids = deposit_ids_of(federation, set(expected))
            federation.wait_until(lambda i=ids: federation.minted_in_ledger(1, i))
    finally:
        federation.relayer(3).start()


def test_two_members_finish_when_one_is_down_for_good_and_it_catches_up_later(
    chain: BitcoindNode, federation: LocalFederation, usdt_property: tuple[int, int]
) -> None:
    federation.relayer(2).kill()
    expected = make_deposits(chain, federation, 2, 1, usdt_property[0])
    chain.mine(DEPTH)
    federation.wait_until(lambda: all_credited(federation, expected))
    assert_minted_once(federation, expected)
    ids = deposit_ids_of(federation, set(expected))
    for member in (1, 3):
        federation.wait_until(lambda m=member: federation.minted_in_ledger(m, ids))
    federation.relayer(2).start()
    federation.wait_until(lambda: federation.minted_in_ledger(2, ids))


def test_relayers_recover_when_bitcoind_restarts_mid_flow(
    chain: BitcoindNode, federation: LocalFederation, usdt_property: tuple[int, int]
) -> None:
    expected = make_deposits(chain, federation, 2, 1, usdt_property[0])
    chain.mine(1)
    chain.restart()
    chain.mine(DEPTH - 1)
    federation.wait_until(lambda: all_credited(federation, expected))
    assert_minted_once(federation, expected)
    assert all(relayer.running for relayer in federation.relayers)


def test_a_reorg_shallower_than_the_depth_never_mints(
    chain: BitcoindNode, federation: LocalFederation
) -> None:
    recipient = new_recipient()
    txid = pay_btc(chain, {federation.register_address(recipient): 70_000})
    chain.mine(DEPTH - 1)
    seen = {f"{txid}:{vout}" for vout in range(2)}

    def status(member: int) -> DepositStatus | None:
        found = [s for i, s in federation.statuses(member).items() if i in seen]
        return found[0] if found else None

    for member in (1, 2, 3):
        federation.wait_until(lambda m=member: status(m) is DepositStatus.SEEN)
    reorg_out(chain, txid, new_blocks=DEPTH + 1)
    for member in (1, 2, 3):
        federation.wait_until(lambda m=member: status(m) is DepositStatus.REORGED)
    marker = make_deposits(chain, federation, 1, 0, 0)  # a later deposit that does mint
    chain.mine(DEPTH)
    federation.wait_until(lambda: all_credited(federation, marker))
    assert federation.balance_wei(recipient) == 0
    assert not [e for e in federation.deposited_events() if e.txid == txid]


def test_audit_holds_after_the_scenarios_and_fails_when_broken(
    federation: LocalFederation,
) -> None:
    minted = len(federation.deposited_events())
    federation.wait_until(
        lambda: sum(s is DepositStatus.MINTED for s in federation.statuses(1).values()) == minted
    )
    config = str(federation.config_path(1))
    passed = federation.sluice("audit", "--config", config)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "BTC: OK" in passed.stdout and "USDT: OK" in passed.stdout

    # Two members sign a deposit that Bitcoin never saw: the Bridge mints it, holdings lag.
    fake = Attestation(secrets.token_bytes(32), 0, 0, 12_345, secrets.token_bytes(20))
    for keys in federation.keys[:2]:
        signature = sign_attestation(fake, keys.evm_private_key, CHAIN_ID, BRIDGE_ADDRESS)
        federation.rpc("sluice_submitAttestation", attestation_json(fake), "0x" + signature.hex())
    federation.wait_until(lambda: len(federation.deposited_events()) == minted + 1)
    broken = federation.sluice("audit", "--config", config)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "BTC: BROKEN" in broken.stdout and "USDT: OK" in broken.stdout
    btc_report = broken.stdout.split("USDT:")[0]
    assert btc_report.split("unbacked supply")[1].split()[0] == "12345"


def test_a_reorg_deeper_than_the_depth_after_a_mint_pauses_deposits(
    chain: BitcoindNode, federation: LocalFederation
) -> None:
    recipient = new_recipient()
    txid = pay_btc(chain, {federation.register_address(recipient): 80_000})
    chain.mine(DEPTH)
    federation.wait_until(lambda: federation.balance_wei(recipient) == 80_000 * WEI_PER_SAT)
    reorg_out(chain, txid, new_blocks=DEPTH + 2)
    for member in (1, 2, 3):
        sessions = federation.sessions(member)

        def paused(s: sessionmaker[Session] = sessions) -> bool:
            with s() as session:
                state = pause_state(Ledger(session))
            return state.paused and "reorg" in (state.reason or "")

        federation.wait_until(paused)
        assert "deposits paused: Bitcoin reorg to height" in federation.relayer(member).log_text()
    later = make_deposits(chain, federation, 1, 0, 0)
    chain.mine(DEPTH)

    def ids_confirmed() -> list[str]:
        return [i for i, s in federation.statuses(1).items() if s is DepositStatus.CONFIRMED]

    federation.wait_until(lambda: len(ids_confirmed()) == 1)
    deadline = time.monotonic() + 3.0  # a few poll intervals: nothing may be attested
    while time.monotonic() < deadline:
        assert all(credited(federation, r, "BTC") == 0 for r in later)
        time.sleep(0.2)
    assert len(ids_confirmed()) == 1
