"""Deposit addresses learned late, and addresses of another federation, with relayer processes
(real bitcoind, real node, 2-of-3, depth 2).

* A payment made before any member knew its address, mined past the depth, is found once the
  address reaches a member (member 1, as its API stores it): the others learn it by gossip,
  every member's scanner rescans, attests, and the deposit is minted once.
* A member killed during that rescan (crash point `after_scan`, right after a rescan step's
  commit) resumes it when restarted and records the deposit once.
* An address naming another federation is rejected as a bad script by the real relayer.

This module has a stack of its own (its own xdist group).
"""

import logging

import pytest

from bridge.bitcoin.deposit_script import DepositScript
from bridge.bitcoin.rescan import RESCANNED, RESCANNING
from bridge.ledger import DepositStatus, Ledger
from bridge.ledger.states import RejectReason
from regtest.node import BitcoindNode
from relayer.testing import FederationRig, pay_btc
from tests.relayer.deposits.conftest import (
    DEPTH,
    all_credited,
    assert_audit_holds,
    deposit_ids_of,
    new_recipient,
)

log = logging.getLogger(__name__)
pytestmark = pytest.mark.xdist_group("relayer-address-rescan")
OTHER_KEY = bytes.fromhex("02e493dbf1c10d80f3581e4904930b1404cc6c13900ee0758474fa94abe8c4cd13")


def member_keys(federation: FederationRig) -> list[bytes]:
    return [k.bitcoin_public for k in federation.keys]


def federation_script(federation: FederationRig, recipient: str) -> DepositScript:
    return DepositScript.create(recipient, member_keys(federation), federation.settings.threshold)


def store_address(federation: FederationRig, member: int, script: DepositScript) -> None:
    """Store a deposit address in one member's ledger only, as the API over it does."""
    with federation.sessions(member).begin() as session:
        Ledger(session).deposit_addresses.add(
            script.address("regtest"), script.witness_script.hex(), "0x" + script.recipient.hex()
        )


def mine_past_the_depth(chain: BitcoindNode, federation: FederationRig, blocks: int) -> None:
    """Mine `blocks` and wait until every running member has handled them."""
    chain.mine(blocks)
    height = int(chain.getblockcount())
    federation.wait_until(lambda: federation.handled(height))


def deposits_recorded(federation: FederationRig, member: int, deposit_id: str) -> int:
    """How often `deposit_id` was created in the member's ledger (its audit log)."""
    entries = federation.read(member, lambda ledger: ledger.audit.for_record("deposit", deposit_id))
    return sum(entry.action == "created" for entry in entries)


def assert_minted_once_everywhere(
    federation: FederationRig, recipient: str, sats: int, deposit: str
) -> None:
    """`deposit` credits `recipient` once, and every member's ledger holds it minted, once."""
    federation.wait_until(lambda: all_credited(federation, {recipient: ("BTC", sats)}))
    assert deposit_ids_of(federation, {recipient}) == {deposit}
    for member in (1, 2, 3):
        federation.wait_until(lambda m=member: federation.minted_in_ledger(m, {deposit}))
        assert deposits_recorded(federation, member, deposit) == 1
    assert_audit_holds(federation)


def paid_outpoint(chain: BitcoindNode, txid: str, address: str) -> str:
    outputs = chain.getrawtransaction(txid, True)["vout"]
    (vout,) = [o["n"] for o in outputs if o["scriptPubKey"].get("address") == address]
    return f"{txid}:{vout}"


def test_a_deposit_paid_before_its_address_was_known_is_minted_once_it_is_learned(
    chain: BitcoindNode, federation: FederationRig
) -> None:
    recipient = new_recipient()
    script = federation_script(federation, recipient)
    address = script.address("regtest")
    txid = pay_btc(chain, {address: 70_000})
    log.info("paid %s, which no member knows; mining past the depth", address)
    mine_past_the_depth(chain, federation, DEPTH + 2)
    deposit = paid_outpoint(chain, txid, address)
    assert all(deposit not in federation.statuses(m) for m in (1, 2, 3))

    log.info("member 1 stores the address (its API hands it out); the others hear by gossip")
    store_address(federation, 1, script)
    assert_minted_once_everywhere(federation, recipient, 70_000, deposit)


def test_a_member_killed_during_the_rescan_resumes_it_and_records_the_deposit_once(
    chain: BitcoindNode, federation: FederationRig
) -> None:
    """Member 2 learns the address while down, starts, and exits right after the first commit
    of its rescan (more than one step: the scan covers more heights than a step reads)."""
    member = federation.relayer(2)
    mine_past_the_depth(chain, federation, 21)
    assert member.stop() == 0
    recipient = new_recipient()
    script = federation_script(federation, recipient)
    address = script.address("regtest")
    txid = pay_btc(chain, {address: 71_000})
    chain.mine(DEPTH + 1)
    deposit = paid_outpoint(chain, txid, address)
    store_address(federation, 2, script)

    log.info("member 2 starts and is killed after its first scan step")
    member.start(crash_at="after_scan")
    assert member.wait_exit(timeout=90) == 137
    cursors = federation.read(
        2, lambda ledger: [ledger.cursors.position(n, -1) for n in (RESCANNED, RESCANNING)]
    )
    assert cursors[0] < cursors[1], "the rescan is under way"

    log.info("restarted, member 2 finishes the rescan; its gossip tells the others")
    member.start()
    assert_minted_once_everywhere(federation, recipient, 71_000, deposit)


def test_a_payment_to_an_address_of_another_federation_is_rejected_as_a_bad_script(
    chain: BitcoindNode, federation: FederationRig
) -> None:
    """An address made before the federation changed (one key replaced) still gets paid."""
    recipient = new_recipient()
    keys = [*member_keys(federation)[:-1], OTHER_KEY]
    earlier = DepositScript.create(recipient, keys, federation.settings.threshold)
    address = earlier.address("regtest")
    store_address(federation, 1, earlier)
    txid = pay_btc(chain, {address: 72_000})
    mine_past_the_depth(chain, federation, DEPTH)
    deposit = paid_outpoint(chain, txid, address)

    def rejected() -> bool:
        found = federation.read(1, lambda ledger: ledger.deposits.get(deposit))
        return found is not None and found.status is DepositStatus.REJECTED

    federation.wait_until(rejected)
    found = federation.read(1, lambda ledger: ledger.deposits.get(deposit))
    assert found.reject_reason is RejectReason.BAD_SCRIPT
    entries = federation.read(1, lambda ledger: ledger.audit.for_record("deposit", deposit))
    messages = [(e.detail or {}).get("message", "") for e in entries]
    assert any("not the bridge's current one" in message for message in messages)
    assert deposit_ids_of(federation, {recipient}) == set()
    assert federation.balance_wei(recipient) == 0
