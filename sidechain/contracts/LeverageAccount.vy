# pragma version 0.4.3
"""
@title Leverage account: one user's leveraged restaking position in the lending pool
@notice Created by the LeverageRouter (an ERC-5202 blueprint) for its owner, and driven only
        by the router. leverage() loops restake BTC -> supply the rsBTC -> borrow BTC ->
        restake until the rsBTC added reaches the target multiple of the BTC sent, then
        refuses the whole call if the health factor ends below the owner's floor. unwind()
        repays the BTC debt from the BTC sent, hands all the rsBTC back to the owner and
        refunds the rest.
@dev The pool keys positions by msg.sender, so each user's leveraged position is this
     contract's; its rsBTC sits in the pool's purse for it, with the one operator chosen at
     the first leverage. Debt and collateral are both BTC, so a BTC price move leaves the
     health factor alone; interest and a slash of the operator lower it. The rsBTC turns back
     into BTC only through the vault's unbonding queue, so an atomic unwind needs the debt in
     BTC from the caller.
"""

from ethereum.ercs import IERC20


interface IPool:
    def supply(market: uint8, amount: uint256): payable
    def borrow(market: uint8, amount: uint256): nonpayable
    def repay(market: uint8, amount: uint256) -> uint256: payable
    def withdraw(market: uint8, amount: uint256) -> uint256: nonpayable
    def position(account: address) -> Position: view
    def health_factor(account: address) -> uint256: view
    def debt_balance(market: uint8, account: address) -> uint256: view

interface IVault:
    def deposit(operator: address, amount: uint256) -> uint256: payable

interface IOracle:
    def price(asset: uint8) -> uint256: view


struct Position:
    power: uint256
    weighted: uint256
    debt: uint256


MARKET_BTC: constant(uint8) = 0
MARKET_RSBTC: constant(uint8) = 2
ASSET_BTC: constant(uint8) = 0
# Six rounds reach about 3.3x at a 75% loan-to-value (the limit is 1 / (1 - LTV) = 4x).
MAX_ROUNDS: constant(uint256) = 6
MAX_BPS: constant(uint256) = 10_000
# Each round borrows this much less than the limit, so rounding never trips the pool's check.
MARGIN_BPS: constant(uint256) = 10
PRICE_UNIT: constant(uint256) = 10**8
WEI_PER_SAT: constant(uint256) = 10**10

# @notice The user whose position this is; receives the rsBTC and refunds.
owner: public(immutable(address))
# @notice The router that created this account, the only caller of leverage and unwind.
router: public(immutable(address))
pool: public(immutable(address))
vault: public(immutable(address))
oracle: public(immutable(address))


@deploy
def __init__(
    owner_address: address, pool_address: address, vault_address: address, oracle_address: address
):
    """@dev The creator (msg.sender) is the router; the pool may pull this account's rsBTC."""
    owner = owner_address
    router = msg.sender
    pool = pool_address
    vault = vault_address
    oracle = oracle_address
    extcall IERC20(vault_address).approve(pool_address, max_value(uint256))


@external
@payable
def __default__():
    """@notice Takes the BTC the pool pays out (borrows, refunds); nobody else's."""
    assert msg.sender == pool, "only the pool pays this account"


@external
@payable
def leverage(operator: address, target_leverage_bps: uint256, min_health: uint256) -> uint256:
    """
    @notice Restake the BTC sent and loop borrow -> restake until the rsBTC added is
            target_leverage_bps / 10000 times it; router only.
    @param min_health Smallest health factor accepted at the end, in WAD (10**18 = 1).
    @return The BTC restaked in all rounds, in sats.
    """
    assert msg.sender == router, "only router"
    equity: uint256 = msg.value // WEI_PER_SAT
    assert equity > 0, "no BTC sent"
    assert msg.value == equity * WEI_PER_SAT, "msg.value must be a whole number of sats"
    assert target_leverage_bps >= MAX_BPS, "target leverage below 1x"
    target: uint256 = equity * target_leverage_bps // MAX_BPS
    staked: uint256 = 0
    amount: uint256 = equity
    for _: uint256 in range(MAX_ROUNDS):
        shares: uint256 = extcall IVault(vault).deposit(
            operator, amount, value=amount * WEI_PER_SAT
        )
        extcall IPool(pool).supply(MARKET_RSBTC, shares)
        staked += amount
        if staked >= target:
            break
        amount = min(self._borrowable(), target - staked)
        if amount == 0:
            break
        extcall IPool(pool).borrow(MARKET_BTC, amount)
    assert staked >= target, "target leverage not reachable within the loan-to-value limit"
    assert staticcall IPool(pool).health_factor(self) >= min_health, (
        "health factor below the floor"
    )
    return staked


@external
@payable
def unwind() -> uint256:
    """
    @notice Repay all the BTC debt from the BTC sent, give all the rsBTC to the owner, refund
            the rest of the BTC; router only.
    @return The rsBTC shares handed back.
    """
    assert msg.sender == router, "only router"
    owed: uint256 = staticcall IPool(pool).debt_balance(MARKET_BTC, self)
    assert msg.value >= owed * WEI_PER_SAT, "send at least the BTC debt to unwind"
    if owed != 0:
        extcall IPool(pool).repay(MARKET_BTC, owed, value=owed * WEI_PER_SAT)
    shares: uint256 = extcall IPool(pool).withdraw(MARKET_RSBTC, max_value(uint256))
    assert extcall IERC20(vault).transfer(owner, shares), "token transfer failed"
    if self.balance != 0:
        raw_call(owner, b"", value=self.balance)
    return shares


@internal
@view
def _borrowable() -> uint256:
    """@dev Sats the loan-to-value limit still allows, less the rounding margin."""
    held: Position = staticcall IPool(pool).position(self)
    if held.power <= held.debt:
        return 0
    room: uint256 = (held.power - held.debt) * PRICE_UNIT // staticcall IOracle(oracle).price(
        ASSET_BTC
    )
    return room * (MAX_BPS - MARGIN_BPS) // MAX_BPS
