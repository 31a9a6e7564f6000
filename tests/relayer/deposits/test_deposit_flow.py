"""Deposits end to end: real bitcoind, real node, three relayer processes (2-of-3, depth 2).

The tests share this module's stack (one xdist group); each makes its own deposits, leaves
every member running, and ends with `sluice audit` passing.
"""

import logging

import pytest

from bridge.ledger import DepositStatus
from regtest.node import BitcoindNode
from relayer.testing import FederationRig, pay_btc
from tests.relayer.deposits.conftest import (
    DEPTH,
    all_credited,
    assert_audit_holds,
    credited,
    deposit_ids_of,
    make_deposits,
    new_recipient,
    reorg_out,
)

log = logging.getLogger(__name__)
pytestmark = pytest.mark.xdist_group("relayer-deposit-flow")


def assert_minted_once(federation: FederationRig, expected: dict[str, tuple[str, int]]) -> None:
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
    chain: BitcoindNode, federation: FederationRig, usdt_property: tuple[int, int]
) -> None:
    expected = make_deposits(chain, federation, btc=25, usdt=25, property_id=usdt_property[0])
    log.info("50 deposits paid; mining %d blocks", DEPTH)
    chain.mine(DEPTH)
    federation.wait_until(lambda: all_credited(federation, expected), timeout=180)
    assert_minted_once(federation, expected)
    ids = deposit_ids_of(federation, set(expected))
    for member in (1, 2, 3):
        federation.wait_until(lambda m=member: federation.minted_in_ledger(m, ids))
    assert_audit_holds(federation)


CRASH_POINTS = ("after_scan", "after_attest", "after_submit", "after_mint")


def test_a_member_killed_at_each_step_resumes_without_loss_or_double_mint(
    chain: BitcoindNode, federation: FederationRig, usdt_property: tuple[int, int]
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
        if not member.running:
            member.start()
        federation.relayer(3).start()
    assert_audit_holds(federation)


def test_two_members_finish_when_one_is_down_for_good_and_it_catches_up_later(
    chain: BitcoindNode, federation: FederationRig, usdt_property: tuple[int, int]
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
    assert_audit_holds(federation)


def test_relayers_recover_when_bitcoind_restarts_mid_flow(
    chain: BitcoindNode, federation: FederationRig, usdt_property: tuple[int, int]
) -> None:
    expected = make_deposits(chain, federation, 2, 1, usdt_property[0])
    chain.mine(1)
    chain.restart()
    chain.mine(DEPTH - 1)
    federation.wait_until(lambda: all_credited(federation, expected))
    assert_minted_once(federation, expected)
    assert all(relayer.running for relayer in federation.relayers)
    assert_audit_holds(federation)


def test_a_reorg_shallower_than_the_depth_never_mints(
    chain: BitcoindNode, federation: FederationRig
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
    assert_audit_holds(federation)
