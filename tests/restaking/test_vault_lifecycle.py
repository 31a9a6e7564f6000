"""Stake -> delegate -> rewards raise the exchange rate -> unstake -> claim after the unbonding
delay, exact to the base unit, for both vaults; and the refusals along the way."""

import pytest

from restaking.vault_model import INITIAL_RATE, RAY, VIRTUAL_SHARES, to_assets, to_shares

from .conftest import COMMISSION_BPS, PARAMS, WEI_PER_SAT, advance, mint_usdt, ok


class Asset:
    """One vault seen from a test: stake, reward and the holdings of an account, in base units."""

    def __init__(self, restaking, evm, usdt, operators, kind: str) -> None:
        self.evm, self.token, self.operators, self.kind = evm, usdt, operators, kind
        self.vault = restaking.btc if kind == "btc" else restaking.usdt

    def fund(self, account, amount: int) -> None:
        if self.kind == "usdt":
            mint_usdt(self.evm, self.token, account, amount)
            ok(self.token.transact(account, "approve", self.vault.address, 2**256 - 1))

    def stake(self, account, operator, amount: int):
        self.fund(account, amount)
        value = amount * WEI_PER_SAT if self.kind == "btc" else 0
        return self.vault.transact(account, "deposit", operator.address, amount, value=value)

    def reward(self, account, operator, amount: int):
        self.fund(account, amount)
        value = amount * WEI_PER_SAT if self.kind == "btc" else 0
        return self.vault.transact(account, "reward", operator.address, amount, value=value)

    def held_by_vault(self) -> int:
        """Base units the vault holds."""
        if self.kind == "btc":
            return self.evm.state.get_balance(self.vault.address) // WEI_PER_SAT
        return self.token.call("balanceOf", "0x" + self.vault.address.hex())

    def balance(self, account) -> int:
        assert self.kind == "usdt", "native balances also move with gas"
        return self.token.call("balanceOf", account.address)


@pytest.fixture(params=["btc", "usdt"])
def asset(request, restaking, evm, usdt, operators):
    return Asset(restaking, evm, usdt, operators, request.param)


def test_stake_reward_unstake_claim_is_exact_to_the_base_unit(asset, evm, operators, stakers):
    staker, payer = stakers[0], stakers[1]
    operator = operators[0]

    ok(asset.stake(staker, operator, 1_000_000))
    shares = asset.vault.call("balanceOf", staker.address)
    assert shares == to_shares(1_000_000, INITIAL_RATE) == 1_000_000_000
    assert asset.vault.call("delegated_to", staker.address) == operator.address.lower()
    assert asset.vault.call("rates", operator.address) == (INITIAL_RATE, RAY)

    ok(asset.reward(payer, operator, 100_000))
    commission = 100_000 * COMMISSION_BPS // 10_000
    assert asset.vault.call("commission_owed", operator.address) == commission
    # The 90,000 net raise the rate over the shares plus the virtual shares.
    rate = INITIAL_RATE + (100_000 - commission) * RAY // (shares + VIRTUAL_SHARES)
    assert asset.vault.call("rates", operator.address) == (rate, RAY)
    owed = to_assets(shares, rate)
    assert asset.vault.call("assets_of", staker.address) == owed == 1_089_999
    assert asset.vault.call("stake_of", operator.address) == owed

    result = ok(asset.vault.transact(staker, "unstake", shares))
    [queued] = asset.vault.events(result, "UnstakeQueued")
    assert (queued["index"], queued["assets"]) == (0, owed)
    assert asset.vault.call("balanceOf", staker.address) == 0
    refused = asset.vault.transact(staker, "claim", 0)
    assert refused.revert_reason == "withdrawal still unbonding"

    advance(evm, PARAMS.unbonding_blocks)
    held_before = asset.held_by_vault()
    paid_before = asset.balance(staker) if asset.kind == "usdt" else None
    result = ok(asset.vault.transact(staker, "claim", 0))
    [claimed] = asset.vault.events(result, "Claimed")
    assert claimed["assets"] == owed
    assert asset.held_by_vault() == held_before - owed
    if paid_before is not None:
        assert asset.balance(staker) == paid_before + owed
    assert asset.vault.transact(staker, "claim", 0).revert_reason == "withdrawal already claimed"

    result = ok(asset.vault.transact(operator, "claim_commission"))
    assert asset.vault.events(result, "CommissionClaimed")[0]["assets"] == commission
    # What is left is the virtual offset's cut of the reward: dust the vault keeps.
    assert asset.held_by_vault() == 1_100_000 - owed - commission == 1


def test_claim_is_refused_one_block_before_the_delay(asset, evm, operators, stakers):
    ok(asset.stake(stakers[0], operators[0], 5_000))
    ok(asset.vault.transact(stakers[0], "unstake", 10**6))
    advance(evm, PARAMS.unbonding_blocks - 1)
    assert asset.vault.transact(stakers[0], "claim", 0).revert_reason == (
        "withdrawal still unbonding"
    )
    advance(evm, 1)
    assert asset.vault.transact(stakers[0], "claim", 0).success
    assert asset.vault.transact(stakers[0], "claim", 7).revert_reason == "unknown withdrawal"


def test_redelegation_goes_through_the_queue_into_the_new_pool(asset, evm, operators, stakers):
    staker = stakers[0]
    ok(asset.stake(staker, operators[0], 40_000))
    assert asset.vault.transact(staker, "redelegate", operators[0].address).revert_reason == (
        "already delegated to this operator"
    )

    ok(asset.vault.transact(staker, "redelegate", operators[1].address))
    assert asset.vault.call("balanceOf", staker.address) == 0
    assert asset.vault.call("stake_of", operators[1].address) == 0
    advance(evm, PARAMS.unbonding_blocks)
    result = ok(asset.vault.transact(staker, "claim", 0))

    [claimed] = asset.vault.events(result, "Claimed")
    assert (claimed["assets"], claimed["restaked_to"]) == (40_000, operators[1].address)
    assert asset.vault.call("delegated_to", staker.address) == operators[1].address.lower()
    assert asset.vault.call("stake_of", operators[1].address) == 40_000
    assert asset.vault.call("balanceOf", staker.address) == 40_000_000


def test_redelegation_pays_out_when_the_target_left_during_unbonding(
    asset, evm, restaking, operators, stakers
):
    staker = stakers[0]
    ok(asset.stake(staker, operators[0], 9_000))
    ok(asset.vault.transact(staker, "redelegate", operators[2].address))
    ok(restaking.registry.transact(operators[2], "deregister"))
    advance(evm, PARAMS.unbonding_blocks)

    result = ok(asset.vault.transact(staker, "claim", 0))
    [claimed] = asset.vault.events(result, "Claimed")
    assert (claimed["assets"], claimed["restaked_to"]) == (9_000, "0x" + "00" * 20)
    assert asset.vault.call("stake_of", operators[2].address) == 0
    if asset.kind == "usdt":
        assert asset.balance(staker) == 9_000


def test_shares_move_only_between_accounts_of_one_operator(asset, operators, stakers):
    ok(asset.stake(stakers[0], operators[0], 1_000))
    ok(asset.stake(stakers[1], operators[1], 1_000))

    ok(asset.vault.transact(stakers[0], "transfer", stakers[2].address, 400_000))
    assert asset.vault.call("delegated_to", stakers[2].address) == operators[0].address.lower()
    assert asset.vault.call("assets_of", stakers[2].address) == 400
    refused = asset.vault.transact(stakers[0], "transfer", stakers[1].address, 1)
    assert refused.revert_reason == "receiver delegates to another operator"
    refused = asset.stake(stakers[0], operators[1], 1)
    assert refused.revert_reason == "staker delegates to another operator"
    assert asset.vault.call("totalSupply") == 2_000_000


def test_deposits_refused_with_reasons(restaking, operators, stakers, outsider):
    btc = restaking.btc
    assert restaking.stake_btc(stakers[0], outsider, 10).revert_reason == "operator not active"
    refused = btc.transact(stakers[0], "deposit", operators[0].address, 10, value=10)
    assert refused.revert_reason == "msg.value must equal amount * 10**10 wei"
    assert restaking.stake_btc(stakers[0], operators[0], 0).revert_reason == "amount is zero"
    refused = btc.transact(stakers[0], "reward", operators[0].address, 5, value=5 * WEI_PER_SAT)
    assert refused.revert_reason == "operator has no stake"
    assert btc.transact(stakers[0], "unstake", 1).revert_reason == "unstake amount exceeds balance"


def test_usdt_vault_holds_every_operators_tokens_itself(restaking, evm, usdt, operators, stakers):
    asset = Asset(restaking, evm, usdt, operators, "usdt")
    ok(asset.stake(stakers[0], operators[0], 700))
    ok(asset.stake(stakers[1], operators[1], 300))

    assert asset.held_by_vault() == 1_000
    assert asset.vault.call("stake_of", operators[0].address) == 700
    assert asset.vault.call("active_shares", 0) == 700_000
    assert asset.vault.call("active_shares", 1) == 300_000
