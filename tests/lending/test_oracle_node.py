"""The federation's price oracle on a real `sluice node run`: every member runs `sluice oracle
push` over its own source; prices are posted signed by a quorum, a move past the deviation
limit in steps, a member killed (-9) is taken over and resumes; a member co-signs only a price
near its own; the node refuses a stale report and a non-member's signature with the reason,
leaving the oracle as it was."""

import secrets
import signal
from collections.abc import Iterator

import pytest
from eth_account import Account
from web3.exceptions import ContractLogicError

from lending.oracle import PriceReport, quorum_signatures
from lending.pusher import COSIGN_KIND, report_json
from relayer.keys import MemberKeys
from relayer.release_errors import PeerRequestFailed
from relayer.signing import Peer
from relayer.signing_client import PeerClient
from sidechain.genesis import DEV_CHAIN_ID
from sidechain.predeploys import ORACLE_ADDRESS
from tests.lending.stack import LendingNode, Pushers, pushing_prices, running_node

pytestmark = pytest.mark.xdist_group("lending-oracle-node")
BTC, USDT = 0, 1
UNIT = 10**8


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LendingNode]:
    with running_node(tmp_path_factory.mktemp("node")) as node:
        yield node


@pytest.fixture(scope="module")
def pushers(chain: LendingNode, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pushers]:
    with pushing_prices(chain, tmp_path_factory.mktemp("oracle")) as stack:
        yield stack


def member_keys(chain: LendingNode, n: int) -> MemberKeys:
    return MemberKeys.from_secrets(n + 1, secrets.token_bytes(32), chain.members[n].private_key)


def test_prices_are_posted_by_a_quorum_and_large_moves_in_steps(chain, pushers):
    price, _, first_round = chain.price(BTC)
    assert price == 60_000 * UNIT
    pushers.write_prices(BTC="70000", USDT="1")
    pushers.wait_for_price(BTC, 70_000 * UNIT)
    assert chain.price(BTC)[2] == first_round + 2  # 66,000 (the 10% limit), then 70,000
    posted = chain.oracle.events.PricePosted().get_logs(from_block=0)
    assert [e["args"]["price"] for e in posted if e["args"]["asset"] == BTC][-2:] == [
        66_000 * UNIT,
        70_000 * UNIT,
    ]
    logs = pushers.logs()
    assert "co-signed BTC round" in logs
    for secret in [*chain.members, *pushers.posters]:  # no key reaches a log
        assert secret.private_key[2:] not in logs


def test_a_member_killed_is_taken_over_and_resumes(chain, pushers):
    first = pushers.processes[0]
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(30)
    pushers.write_prices(BTC="69000", USDT="1")
    pushers.wait_for_price(BTC, 69_000 * UNIT)  # the two others are a quorum
    first.start()
    pushers.write_prices(BTC="68500", USDT="1")
    pushers.wait_for_price(BTC, 68_500 * UNIT)
    assert chain.price(USDT)[0] == UNIT


async def test_a_member_signs_only_a_price_near_its_own(chain, pushers):
    price, at, round_ = chain.price(BTC)
    second = Peer(chain.members[1].address, f"http://127.0.0.1:{pushers.ports[1]}")
    client = PeerClient(member_keys(chain, 0))
    try:
        report = PriceReport(BTC, price + price // 50, at + 1, round_ + 1)  # 2% off
        with pytest.raises(PeerRequestFailed, match="200 bps from this member's"):
            await client.request(second, COSIGN_KIND, report_json(report))
        report = PriceReport(BTC, price, at + 1, round_ + 5)
        with pytest.raises(PeerRequestFailed, match="is not the next one"):
            await client.request(second, COSIGN_KIND, report_json(report))
    finally:
        await client.close()
    stranger = PeerClient(MemberKeys.generate(1))
    try:
        with pytest.raises(PeerRequestFailed, match="is not a federation peer"):
            await stranger.request(second, COSIGN_KIND, report_json(report))
    finally:
        await stranger.close()
    assert chain.price(BTC) == (price, at, round_)


def test_the_node_refuses_a_stale_report_and_a_non_member_signature(chain, pushers):
    before = [chain.price(BTC), chain.price(USDT)]
    price, _, round_ = before[0]
    now = chain.w3.eth.get_block("latest")["timestamp"]
    max_age = chain.oracle.functions.max_age().call()
    members = [m.private_key for m in chain.members[:2]]
    stale = PriceReport(BTC, price, now - max_age - 60, round_ + 1)
    fresh = PriceReport(BTC, price, now, round_ + 1)
    outsider = [members[0], Account.create().key]
    cases = [
        (stale, members, "price report is stale"),
        (fresh, outsider, "signer not a federation member"),
    ]
    poster = chain.accounts[0]
    for report, keys, reason in cases:
        signatures = quorum_signatures(report, keys, DEV_CHAIN_ID, ORACLE_ADDRESS)
        call = chain.oracle.functions.post(
            report.asset, report.price, report.timestamp, report.round, signatures
        )
        with pytest.raises(ContractLogicError, match=reason):
            call.call({"from": poster.address})
        receipt = chain.send(poster.private_key, call)
        assert receipt["status"] == 0
    assert [chain.price(BTC), chain.price(USDT)] == before
