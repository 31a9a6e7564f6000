"""A member's price rules: what its source says, when a report is due, the step the oracle's
deviation limit allows, and which proposals it co-signs (each refusal names the check)."""

import sys

import pytest

from lending.errors import PriceRefused, PriceSourceError
from lending.prices import (
    CommandSource,
    FileSource,
    OnChainPrice,
    SigningRules,
    parse_prices,
    step_toward,
    update_due,
)

BTC = 60_000 * 10**8
RULES = SigningRules(tolerance_bps=50, max_deviation_bps=1_000, max_clock_skew=30)


def test_a_source_gives_prices_with_eight_decimals():
    assert parse_prices('{"BTC": "60000.12345678", "USDT": 1}', "f") == {
        0: 6_000_012_345_678,
        1: 100_000_000,
    }
    assert parse_prices('{"USDT": "0.9998"}', "f") == {1: 99_980_000}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1]", "must hold an object"),
        ("{", "is not JSON"),
        ('{"ETH": "1"}', "unknown asset 'ETH'"),
        ('{"BTC": "-1"}', "BTC must be positive"),
        ('{"BTC": "1.000000001"}', "at most 8 decimals"),
        ('{"BTC": "lots"}', "BTC must be a decimal number"),
        ('{"BTC": true}', "BTC must be a decimal number"),
    ],
)
def test_a_bad_source_says_what_is_wrong(text, message):
    with pytest.raises(PriceSourceError, match=message):
        parse_prices(text, "price file p.json")


async def test_file_and_command_sources(tmp_path):
    path = tmp_path / "prices.json"
    path.write_text('{"BTC": "61000"}')
    assert await FileSource(path).observe() == {0: 61_000 * 10**8}
    with pytest.raises(PriceSourceError, match="cannot read price file"):
        await FileSource(tmp_path / "missing.json").observe()
    command = CommandSource((sys.executable, "-c", 'print(\'{"USDT": "1.01"}\')'))
    assert await command.observe() == {1: 101_000_000}
    with pytest.raises(PriceSourceError, match="exited with 3"):
        await CommandSource((sys.executable, "-c", "raise SystemExit(3)")).observe()


def test_a_move_beyond_the_deviation_limit_is_walked_in_steps():
    assert step_toward(70_000 * 10**8, BTC, 1_000) == 66_000 * 10**8
    assert step_toward(50_000 * 10**8, BTC, 1_000) == 54_000 * 10**8
    assert step_toward(61_000 * 10**8, BTC, 1_000) == 61_000 * 10**8
    assert step_toward(61_000 * 10**8, 0, 1_000) == 61_000 * 10**8  # the first report


def test_an_update_is_due_on_a_move_or_a_heartbeat():
    current = OnChainPrice(BTC, timestamp=1_000, round=4)
    assert update_due(BTC, OnChainPrice(0, 0, 0), 1_001, 50, 600) == "no price yet"
    assert update_due(BTC + BTC // 100, current, 1_001, 50, 600) == "moved 100 bps"
    assert update_due(BTC + BTC // 1000, current, 1_001, 50, 600) is None
    assert update_due(BTC, current, 1_600, 50, 600).startswith("heartbeat")


def test_a_member_signs_a_proposal_near_its_own_report_and_nothing_else():
    current = OnChainPrice(BTC, timestamp=1_000, round=4)
    own = 61_000 * 10**8
    RULES.check(0, own + own // 400, 1_010, 5, own, current, now=1_012)  # 25 bps off: signed
    # beyond the deviation limit, both the proposer and this member step to the limit
    RULES.check(0, 66_000 * 10**8, 1_010, 5, 70_000 * 10**8, current, now=1_012)
    refusals = [
        ((0, own + own // 100, 1_010, 5, own), "100 bps from this member's"),
        ((0, own, 1_010, 6, own), "round 6 is not the next one \\(5\\)"),
        ((0, own, 1_000, 5, own), "is not after the current one"),
        ((0, own, 1_100, 5, own), "\\+88 s from this member's clock"),
        ((1, own, 1_010, 5, None), "source has no USDT price"),
    ]
    for args, reason in refusals:
        with pytest.raises(PriceRefused, match=reason):
            RULES.check(*args, current=current, now=1_012)
