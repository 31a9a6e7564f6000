"""A regtest bitcoind with test USDT, a sidechain node and a 2-of-3 federation of relayer
processes (confirmation depth 2), shared by the tests of one module.

Every test module here has a stack of its own (the fixtures are module-scoped) and marks itself
with an xdist group, so under `-n 2 --dist loadgroup` its tests run on one worker, over one
stack. Each test makes its own deposits and leaves every member running, so any order works.
"""

import secrets
from collections.abc import Iterator
from decimal import Decimal

import pytest
from eth_utils import to_checksum_address

from bridge.ledger import DepositStatus
from regtest.node import BitcoindNode
from regtest.omni import issue_usdt, send_usdt
from relayer.testing import FederationRig, FederationSettings, pay_btc
from sidechain.system_tx import WEI_PER_SAT

USDT_ISSUED = 10**16
RESERVE_BTC = "0.01"
DEPTH = 2
USDT_SENDS_PER_BLOCK = 10


@pytest.fixture(scope="module")
def usdt_property(chain: BitcoindNode) -> tuple[int, int]:
    """(property id, the height the relayers start scanning at: before its creation)."""
    start = int(chain.getblockcount())
    return issue_usdt(chain, USDT_ISSUED), start


@pytest.fixture(scope="module")
def federation(
    chain: BitcoindNode, usdt_property: tuple[int, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FederationRig]:
    property_id, start = usdt_property
    settings = FederationSettings(usdt_property_id=property_id, scan_start_height=start)
    stack = FederationRig(tmp_path_factory.mktemp("federation"), chain, settings)
    stack.fund_reserve(RESERVE_BTC)  # state anchors pay fees from it
    stack.start()
    try:
        yield stack
    finally:
        stack.close()


def new_recipient() -> str:
    return to_checksum_address("0x" + secrets.token_bytes(20).hex())


def reorg_out(chain: BitcoindNode, txid: str, new_blocks: int) -> None:
    """Replace the chain from `txid`'s block with `new_blocks` blocks holding a double spend
    of its inputs (so it can never come back), mined with generateblock (no mempool)."""
    block = chain.gettransaction(txid)["blockhash"]
    chain.invalidate(block)
    decoded = chain.rpc("decoderawtransaction", chain.gettransaction(txid)["hex"], wallet=False)
    inputs = [{"txid": vin["txid"], "vout": vin["vout"]} for vin in decoded["vin"]]
    paid = sum(out["value"] for out in decoded["vout"])
    fee = -chain.gettransaction(txid)["fee"]
    conflict = chain.createrawtransaction(
        inputs, [{chain.new_address(): paid - fee - Decimal("0.0001")}]
    )
    signed = chain.signrawtransactionwithwallet(conflict)["hex"]
    address = chain.new_address()
    chain.generateblock(address, [signed])
    for _ in range(new_blocks - 1):
        chain.generateblock(address, [])


def make_deposits(
    chain: BitcoindNode, federation: FederationRig, btc: int, usdt: int, property_id: int
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


def credited(federation: FederationRig, recipient: str, asset: str) -> int:
    if asset == "BTC":
        return federation.balance_wei(recipient) // WEI_PER_SAT
    return federation.usdt_balance(recipient)


def all_credited(federation: FederationRig, expected: dict[str, tuple[str, int]]) -> bool:
    return all(credited(federation, r, a) == amount for r, (a, amount) in expected.items())


def deposit_ids_of(federation: FederationRig, recipients: set[str]) -> set[str]:
    """The deposit ids the Bridge minted for these recipients."""
    lowered = {r.lower() for r in recipients}
    return {e.deposit_id for e in federation.deposited_events() if e.recipient in lowered}


def assert_audit_holds(federation: FederationRig) -> None:
    """`sluice audit` over member 1 passes once its ledger holds every mint the Bridge made."""
    minted = len(federation.deposited_events())
    federation.wait_until(
        lambda: sum(s is DepositStatus.MINTED for s in federation.statuses(1).values()) == minted
    )
    status, report = federation.audit(1)
    assert status == 0, report
    assert report["BTC"]["holds"] and report["USDT"]["holds"], report
