"""Gas of the staker's hot paths stays within budget (run with -s to see the figures).

The unstake figure is a staker's first: it creates the withdrawal slots and its counter."""

import pytest

from .conftest import PARAMS, WEI_PER_SAT, advance, gas_used, mint_usdt, ok

BUDGET = {"deposit": 110_000, "unstake": 160_000, "claim": 80_000}


@pytest.mark.parametrize("vault", ["btc", "usdt"])
def test_stake_unstake_and_claim_gas_stays_within_budget(
    vault, restaking, evm, usdt, operators, stakers
):
    contract = getattr(restaking, vault)
    staker, operator, amount = stakers[0], operators[0].address, 10**6
    wei = amount * WEI_PER_SAT if vault == "btc" else 0
    if vault == "usdt":  # an earlier stake creates the operator's purse
        mint_usdt(evm, usdt, stakers[1], amount)
        ok(restaking.stake_usdt(stakers[1], operators[0], amount))
        mint_usdt(evm, usdt, staker, amount)
        ok(usdt.transact(staker, "approve", contract.address, 2**256 - 1))
    else:
        ok(restaking.stake_btc(stakers[1], operators[0], amount))

    figures = {
        "deposit": gas_used(
            evm,
            staker,
            lambda: contract.transact(staker, "deposit", operator, amount, value=wei),
            sent=wei,
        )
    }
    shares = contract.call("balanceOf", staker.address)
    send = lambda: contract.transact(staker, "unstake", shares)  # noqa: E731
    figures["unstake"] = gas_used(evm, staker, send)
    advance(evm, PARAMS.unbonding_blocks)
    send = lambda: contract.transact(staker, "claim", 0)  # noqa: E731
    figures["claim"] = gas_used(evm, staker, send, received=wei)

    print(f"{vault} vault gas: {figures}")
    for name, gas in figures.items():
        assert 21_000 < gas < BUDGET[name], (name, gas)
