"""Bridge.withdraw burns and numbers requests, less the withdrawal fee (10 basis points in the
harness, rounded up); refund (fee included) and mark_released each settle one once."""

import pytest
from eth_utils import to_canonical_address

from sidechain.attestation import Attestation, Refund, Release
from sidechain.predeploys import BRIDGE_ADDRESS

WEI_PER_SAT = 10**10
BTC_ADDRESS = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
BTC_TXID = bytes.fromhex("c3" * 32)
REQUESTED, RELEASED, REFUNDED = 1, 2, 3


def mint_usdt(bridge, federation, account, amount: int) -> None:
    attestation = Attestation(
        txid=b"\xdd" * 32,
        vout=0,
        asset=1,
        amount=amount,
        recipient=to_canonical_address(account.address),
    )
    a = attestation
    result = bridge.system(
        "deposit", a.txid, a.vout, a.asset, a.amount, a.recipient, federation.sign(a)
    )
    assert result.success, result.revert_reason


def withdraw_btc(bridge, account, sats: int):
    return bridge.transact(account, "withdraw", 0, sats, BTC_ADDRESS, value=sats * WEI_PER_SAT)


def test_btc_withdrawal_locks_the_coins_and_emits_the_request(bridge, evm, users):
    result = withdraw_btc(bridge, users[0], 50_000)

    assert result.success, result.revert_reason
    assert evm.state.get_balance(BRIDGE_ADDRESS) == 50_000 * WEI_PER_SAT
    [event] = bridge.events(result, "WithdrawalRequested")
    assert event == {
        "withdrawal_id": 1,
        "sender": users[0].address,
        "asset": 0,
        "amount": 49_950,  # what Bitcoin pays: 50,000 less the 50 sat fee
        "bitcoin_address": BTC_ADDRESS,
    }
    assert bridge.events(result, "WithdrawalFeeCharged") == [
        {"withdrawal_id": 1, "asset": 0, "fee": 50}
    ]
    assert bridge.call("withdrawals", 1) == (
        users[0].address.lower(),
        0,
        49_950,
        REQUESTED,
        b"\x00" * 32,
        50,
    )


def test_withdrawal_ids_are_sequential_across_assets(bridge, usdt, federation, users):
    mint_usdt(bridge, federation, users[1], 1_000)
    results = [
        withdraw_btc(bridge, users[0], 10_000),
        bridge.transact(users[1], "withdraw", 1, 400, BTC_ADDRESS),
        withdraw_btc(bridge, users[2], 20_000),
    ]
    ids = [bridge.events(r, "WithdrawalRequested")[0]["withdrawal_id"] for r in results]
    assert ids == [1, 2, 3]
    assert bridge.call("withdrawal_count") == 3


def test_usdt_withdrawal_burns_the_senders_tokens(bridge, usdt, federation, users):
    mint_usdt(bridge, federation, users[0], 1_000)
    result = bridge.transact(users[0], "withdraw", 1, 400, BTC_ADDRESS)

    assert result.success, result.revert_reason
    assert usdt.call("balanceOf", users[0].address) == 600
    # 400 burned, the 1 unit fee (rounded up from 0.4) kept by the Bridge as tokens
    assert usdt.call("balanceOf", "0x" + BRIDGE_ADDRESS.hex()) == 1
    assert usdt.call("totalSupply") == 601
    burn, fee = usdt.events(result, "Transfer")
    assert burn == {"sender": users[0].address, "receiver": "0x" + "0" * 40, "value": 400}
    assert fee["value"] == 1
    [requested] = bridge.events(result, "WithdrawalRequested")
    assert (requested["asset"], requested["amount"]) == (1, 399)


def test_usdt_withdrawal_above_balance_is_refused(bridge, usdt, federation, users):
    mint_usdt(bridge, federation, users[0], 100)
    result = bridge.transact(users[0], "withdraw", 1, 101, BTC_ADDRESS)
    assert result.revert_reason == "burn amount exceeds balance"
    assert bridge.call("withdrawal_count") == 0


@pytest.mark.parametrize("value", [0, 50_000 * WEI_PER_SAT - 1, 50_000 * WEI_PER_SAT + 1, 50_000])
def test_btc_withdrawal_value_must_equal_amount_in_wei(bridge, users, value):
    result = bridge.transact(users[0], "withdraw", 0, 50_000, BTC_ADDRESS, value=value)
    assert result.revert_reason == "msg.value must equal amount * 10**10 wei"


def test_usdt_withdrawal_with_value_is_refused(bridge, usdt, federation, users):
    mint_usdt(bridge, federation, users[0], 100)
    result = bridge.transact(users[0], "withdraw", 1, 100, BTC_ADDRESS, value=1)
    assert result.revert_reason == "msg.value must be zero for a USDT withdrawal"


@pytest.mark.parametrize(
    ("asset", "amount", "reason"),
    [
        (2, 10_000, "unknown asset"),
        (0, 0, "amount is zero"),
        (0, 1, "amount does not cover the withdrawal fee"),  # the fee rounds up to 1
    ],
)
def test_withdrawal_of_unknown_asset_or_zero_is_refused(bridge, users, asset, amount, reason):
    assert bridge.transact(users[0], "withdraw", asset, amount, BTC_ADDRESS).revert_reason == reason


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("", "bitcoin address is empty"),
        ("bc1qshort", "bitcoin address shorter than 14 characters"),
        (
            "bc1q w508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
            "bitcoin address has a character outside [0-9A-Za-z]",
        ),
        (
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4\x00",
            "bitcoin address has a character outside [0-9A-Za-z]",
        ),
        (
            "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2-",
            "bitcoin address has a character outside [0-9A-Za-z]",
        ),
    ],
)
def test_bad_bitcoin_address_is_refused_before_burning(bridge, evm, users, address, reason):
    result = bridge.transact(users[0], "withdraw", 0, 1, address, value=WEI_PER_SAT)
    assert result.revert_reason == reason
    assert evm.state.get_balance(BRIDGE_ADDRESS) == 0


def test_bitcoin_address_longer_than_90_is_refused(bridge, users):
    result = bridge.transact(users[0], "withdraw", 0, 1, "bc1q" + "a" * 87, value=WEI_PER_SAT)
    assert not result.success
    assert bridge.call("withdrawal_count") == 0


def test_refund_returns_btc_to_the_sender_once(bridge, evm, federation, users):
    withdraw_btc(bridge, users[0], 70_000)
    before = evm.state.get_balance(to_canonical_address(users[0].address))
    signatures = federation.sign(Refund(1))

    # Anyone may submit the federation's signatures; here another user does.
    result = bridge.transact(users[1], "refund", 1, signatures)
    assert result.success, result.revert_reason
    assert (
        evm.state.get_balance(to_canonical_address(users[0].address))
        == before + 70_000 * WEI_PER_SAT
    )
    assert evm.state.get_balance(BRIDGE_ADDRESS) == 0
    assert bridge.events(result, "WithdrawalRefunded") == [
        {"withdrawal_id": 1, "sender": users[0].address, "asset": 0, "amount": 70_000}
    ]  # the fee (70 sats) is returned too
    assert bridge.call("withdrawals", 1)[3] == REFUNDED

    again = bridge.transact(users[1], "refund", 1, signatures)
    assert again.revert_reason == "withdrawal already refunded"


def test_refund_re_mints_usdt_to_the_sender(bridge, usdt, federation, users):
    mint_usdt(bridge, federation, users[0], 1_000)
    bridge.transact(users[0], "withdraw", 1, 1_000, BTC_ADDRESS)
    assert usdt.call("totalSupply") == 1  # the fee, held by the Bridge

    assert bridge.transact(users[1], "refund", 1, federation.sign(Refund(1))).success
    assert usdt.call("balanceOf", users[0].address) == 1_000  # fee included
    assert usdt.call("totalSupply") == 1_000
    assert bridge.call("fees_pending", 1) == 0


def test_refund_needs_threshold_signatures(bridge, federation, users):
    withdraw_btc(bridge, users[0], 1_000)
    result = bridge.transact(users[1], "refund", 1, federation.sign(Refund(1), count=1))
    assert result.revert_reason == "not enough federation signatures"


def test_refund_signature_for_another_withdrawal_is_refused(bridge, federation, users):
    withdraw_btc(bridge, users[0], 1_000)
    withdraw_btc(bridge, users[0], 2_000)
    result = bridge.transact(users[1], "refund", 2, federation.sign(Refund(1)))
    assert result.revert_reason == "signer not a federation member"


def test_release_is_recorded_once(bridge, federation, users):
    withdraw_btc(bridge, users[0], 1_000)
    signatures = federation.sign(Release(1, BTC_TXID))

    result = bridge.transact(users[1], "mark_released", 1, BTC_TXID, signatures)
    assert result.success, result.revert_reason
    assert bridge.events(result, "WithdrawalReleased") == [
        {"withdrawal_id": 1, "btc_txid": BTC_TXID}
    ]
    assert bridge.call("withdrawals", 1)[3:] == (RELEASED, BTC_TXID, 1)

    again = bridge.transact(users[1], "mark_released", 1, BTC_TXID, signatures)
    assert again.revert_reason == "withdrawal already released"


def test_release_signed_for_another_txid_is_refused(bridge, federation, users):
    withdraw_btc(bridge, users[0], 1_000)
    signatures = federation.sign(Release(1, BTC_TXID))
    result = bridge.transact(users[1], "mark_released", 1, b"\x01" * 32, signatures)
    assert result.revert_reason == "signer not a federation member"


def test_refund_after_release_is_refused(bridge, evm, federation, users):
    withdraw_btc(bridge, users[0], 1_000)
    assert bridge.transact(
        users[1], "mark_released", 1, BTC_TXID, federation.sign(Release(1, BTC_TXID))
    ).success

    result = bridge.transact(users[1], "refund", 1, federation.sign(Refund(1)))
    assert result.revert_reason == "withdrawal already released"
    assert evm.state.get_balance(BRIDGE_ADDRESS) == 1_000 * WEI_PER_SAT


def test_release_after_refund_is_refused(bridge, federation, users):
    withdraw_btc(bridge, users[0], 1_000)
    assert bridge.transact(users[1], "refund", 1, federation.sign(Refund(1))).success

    result = bridge.transact(
        users[1], "mark_released", 1, BTC_TXID, federation.sign(Release(1, BTC_TXID))
    )
    assert result.revert_reason == "withdrawal already refunded"


def test_unknown_withdrawal_cannot_be_settled(bridge, federation, users):
    assert (
        bridge.transact(users[1], "refund", 9, federation.sign(Refund(9))).revert_reason
        == "unknown withdrawal"
    )
    result = bridge.transact(
        users[1], "mark_released", 9, BTC_TXID, federation.sign(Release(9, BTC_TXID))
    )
    assert result.revert_reason == "unknown withdrawal"


def test_plain_transfer_to_the_bridge_is_refused(evm, bridge, users):
    assert not evm.transact(users[0], BRIDGE_ADDRESS, b"", value=WEI_PER_SAT).success
