"""Withdrawal fees become restaking rewards: a released withdrawal's fee is earned, and anyone
may distribute() the earned fees to the vault of their asset, split over the active operators
pro rata to stake (exactly: the remainder goes to the largest stake), raising their pools'
rates after commission. Fees of withdrawals still in flight stay with the Bridge (a refund
returns them); a vault without stake keeps its fees waiting."""

from restaking.vault_model import VaultModel
from sidechain.attestation import Refund, Release

from .conftest import COMMISSION_BPS, PARAMS, WEI_PER_SAT, mint_usdt, ok

BTC_ADDRESS = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"


def withdraw_and_release(bridge, federation, user, asset: int, amount: int, txid: bytes) -> int:
    value = amount * WEI_PER_SAT if asset == 0 else 0
    result = ok(bridge.transact(user, "withdraw", asset, amount, BTC_ADDRESS, value=value))
    withdrawal_id = bridge.events(result, "WithdrawalRequested")[0]["withdrawal_id"]
    signatures = federation.sign(Release(withdrawal_id, txid))
    ok(bridge.transact(user, "mark_released", withdrawal_id, txid, signatures))
    return bridge.events(result, "WithdrawalFeeCharged")[0]["fee"]


def test_released_btc_fees_are_paid_to_the_pools_pro_rata(
    restaking, bridge, evm, federation, operators, stakers, outsider
):
    model = VaultModel(PARAMS.unbonding_blocks)
    stakes = {operators[0]: 3_000_000, operators[1]: 1_000_000, operators[2]: 7}
    for staker, (operator, sats) in zip(stakers, stakes.items(), strict=True):
        ok(restaking.stake_btc(staker, operator, sats))
        model.deposit(staker.address, operator.address, sats)
    fees = sum(
        withdraw_and_release(bridge, federation, outsider, 0, amount, bytes([i + 1]) * 32)
        for i, amount in enumerate((1_234_567, 890_001))
    )
    assert fees == 1_235 + 891  # each fee is 10 basis points, rounded up
    assert bridge.call("fees_earned", 0) == fees
    bridge_before = evm.state.get_balance(bridge.address)

    result = ok(bridge.transact(stakers[2], "distribute"))  # anyone may
    assert bridge.events(result, "FeesDistributed") == [{"asset": 0, "amount": fees}]
    expected = model.reward_all(fees, {op.address: COMMISSION_BPS for op in operators})
    rewarded = {e["operator"]: e["assets"] for e in restaking.btc.events(result, "Rewarded")}
    assert rewarded == {op: part for op, part in expected.items() if part > 0}
    assert sum(rewarded.values()) == fees  # nothing lost to rounding
    for operator in operators:
        pool = model.pool(operator.address)
        assert restaking.btc.call("rates", operator.address) == (pool.rate, pool.queue_rate)
    assert bridge.call("fees_earned", 0) == 0
    assert evm.state.get_balance(bridge.address) == bridge_before - fees * WEI_PER_SAT
    assert bridge.call("locked_sats") == 1_234_567 + 890_001 - fees
    again = ok(bridge.transact(stakers[2], "distribute"))
    assert bridge.events(again, "FeesDistributed") == []


def test_usdt_fees_go_to_the_usdt_vault(
    restaking, bridge, usdt, evm, federation, operators, stakers
):
    mint_usdt(evm, usdt, stakers[0], 50_000)
    ok(restaking.stake_usdt(stakers[0], operators[1], 50_000))
    mint_usdt(evm, usdt, stakers[1], 10**9)
    fee = withdraw_and_release(bridge, federation, stakers[1], 1, 10**9, b"\x07" * 32)
    assert fee == 10**6
    result = ok(bridge.transact(stakers[2], "distribute"))
    assert bridge.events(result, "FeesDistributed") == [{"asset": 1, "amount": fee}]
    vault = "0x" + restaking.usdt.address.hex()
    assert usdt.call("balanceOf", vault) == 50_000 + fee
    assert usdt.call("balanceOf", "0x" + bridge.address.hex()) == 0
    commission = fee * COMMISSION_BPS // 10_000
    assert restaking.usdt.call("commission_owed", operators[1].address) == commission


def test_fees_wait_for_release_and_for_stake(
    restaking, bridge, evm, federation, operators, stakers
):
    ok(
        bridge.transact(
            stakers[0], "withdraw", 0, 500_000, BTC_ADDRESS, value=500_000 * WEI_PER_SAT
        )
    )
    assert (bridge.call("fees_pending", 0), bridge.call("fees_earned", 0)) == (500, 0)
    ok(bridge.transact(stakers[1], "refund", 1, federation.sign(Refund(1))))
    assert bridge.call("fees_pending", 0) == 0

    withdraw_and_release(bridge, federation, stakers[0], 0, 100_000, b"\x08" * 32)
    result = ok(bridge.transact(stakers[2], "distribute"))  # nobody staked yet: fees wait
    assert bridge.events(result, "FeesDistributed") == []
    assert bridge.call("fees_earned", 0) == 100
    ok(restaking.stake_btc(stakers[0], operators[0], 1_000))
    ok(bridge.transact(stakers[2], "distribute"))
    assert bridge.call("fees_earned", 0) == 0
    assert restaking.btc.call("commission_owed", operators[0].address) == 10


def test_reward_all_needs_active_stake(restaking, stakers):
    refused = restaking.btc.transact(stakers[0], "reward_all", 10, value=10 * WEI_PER_SAT)
    assert refused.revert_reason == "vault has no stake"
