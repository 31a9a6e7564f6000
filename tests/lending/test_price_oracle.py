"""The price oracle takes a price only with a quorum of federation signatures over (asset,
price, timestamp, round), refuses stale, future, replayed and too-far-moving reports, and
stops serving a price once it is older than the staleness limit."""

import pytest
from eth_account import Account

from lending.errors import MalformedPriceReport
from lending.oracle import PriceReport, price_digest, quorum_signatures

from .conftest import (
    BTC_PRICE,
    CHAIN_ID,
    LENDING,
    MAX_DEVIATION_BPS,
    MAX_PRICE_AGE,
    advance,
    fingerprint,
    ok,
    timestamp,
)

STATE = [("reports", 0), ("reports", 1)]


def post(lending, report: PriceReport, keys: list[bytes]):
    signatures = quorum_signatures(report, keys, CHAIN_ID, LENDING.oracle)
    return lending.oracle.transact(
        lending.governance,
        "post",
        report.asset,
        report.price,
        report.timestamp,
        report.round,
        signatures,
    )


def refused(lending, report: PriceReport, keys: list[bytes], reason: str) -> None:
    before = fingerprint(lending.oracle, STATE)
    result = post(lending, report, keys)
    assert result.revert_reason == reason
    assert fingerprint(lending.oracle, STATE) == before


def next_report(lending, evm, price: int = BTC_PRICE, **changes) -> PriceReport:
    advance(evm, 1, 12)
    fields = {"asset": 0, "price": price, "timestamp": timestamp(evm), "round": 2} | changes
    return PriceReport(**fields)


def test_a_quorum_signed_report_sets_the_price(lending, evm):
    report = next_report(lending, evm, BTC_PRICE + 10**8)
    result = ok(post(lending, report, lending.signers))
    assert lending.oracle.call("price", 0) == BTC_PRICE + 10**8
    assert lending.oracle.call("reports", 0) == (report.price, report.timestamp, 2)
    [posted] = lending.oracle.events(result, "PricePosted")
    assert (posted["asset"], posted["round"]) == (0, 2)


def test_python_digest_equals_the_contracts(lending, evm):
    report = next_report(lending, evm)
    assert lending.oracle.call(
        "price_digest", report.asset, report.price, report.timestamp, report.round
    ) == price_digest(report, CHAIN_ID, LENDING.oracle)


def test_a_stale_report_is_refused(lending, evm):
    advance(evm, 1, 12)
    old = timestamp(evm)
    advance(evm, 100, MAX_PRICE_AGE + 1)
    report = PriceReport(0, BTC_PRICE, old, 2)
    refused(lending, report, lending.signers, "price report is stale")


def test_a_report_from_the_future_is_refused(lending, evm):
    advance(evm, 1, 12)
    report = PriceReport(0, BTC_PRICE, timestamp(evm) + 1, 2)
    refused(lending, report, lending.signers, "price report from the future")


def test_a_non_member_signature_is_refused(lending, evm):
    outsider = b"\x77" * 32
    report = next_report(lending, evm)
    refused(lending, report, [lending.signers[0], outsider], "signer not a federation member")


def test_fewer_signatures_than_the_threshold_are_refused(lending, evm):
    report = next_report(lending, evm)
    refused(lending, report, lending.signers[:1], "not enough federation signatures")


def test_a_duplicated_signer_is_refused(lending, evm):
    report = next_report(lending, evm)
    refused(lending, report, [lending.signers[0]] * 2, "signers not strictly ascending")


def test_a_replayed_report_is_refused(lending, evm):
    report = next_report(lending, evm)
    ok(post(lending, report, lending.signers))
    advance(evm, 1, 12)
    refused(lending, report, lending.signers, "price round already posted")


def test_a_later_round_with_an_older_timestamp_is_refused(lending, evm):
    first = timestamp(evm)
    report = next_report(lending, evm, timestamp=first, round=5)
    refused(lending, report, lending.signers, "price report older than the current price")


def test_a_move_beyond_the_maximum_deviation_is_refused(lending, evm):
    too_far = BTC_PRICE * (10_000 - MAX_DEVIATION_BPS - 1) // 10_000
    report = next_report(lending, evm, too_far)
    refused(lending, report, lending.signers, "price moves more than the maximum deviation")
    at_limit = BTC_PRICE * (10_000 - MAX_DEVIATION_BPS) // 10_000
    ok(post(lending, next_report(lending, evm, at_limit, round=3), lending.signers))
    assert lending.oracle.call("price", 0) == at_limit


def test_a_price_older_than_the_limit_is_not_served(lending, evm):
    advance(evm, 300, MAX_PRICE_AGE + 1)
    result = evm.view(LENDING.oracle, lending.oracle.calldata("price", 0))
    assert result.revert_reason == "price is stale"


def test_a_signature_over_another_oracle_address_is_refused(lending, evm):
    report = next_report(lending, evm)
    signatures = quorum_signatures(report, lending.signers, CHAIN_ID, b"\x51" + b"\x00" * 19)
    result = lending.oracle.transact(
        lending.governance, "post", 0, report.price, report.timestamp, 2, signatures
    )
    assert result.revert_reason == "signer not a federation member"


def test_a_malformed_report_is_refused_in_python():
    with pytest.raises(MalformedPriceReport, match="unknown asset 7"):
        PriceReport(7, 1, 1, 1)
    with pytest.raises(MalformedPriceReport, match="price must be positive: 0"):
        PriceReport(0, 0, 1, 1)


def test_signatures_are_ordered_by_signer():
    keys = [bytes([k]) * 32 for k in (0x31, 0x32, 0x33)]
    report = PriceReport(1, 10**8, 1, 1)
    signatures = quorum_signatures(report, keys, CHAIN_ID, LENDING.oracle)
    signers = [
        Account._recover_hash(price_digest(report, CHAIN_ID, LENDING.oracle), signature=s)
        for s in signatures
    ]
    assert signers == sorted(signers, key=lambda a: bytes.fromhex(a[2:]))
