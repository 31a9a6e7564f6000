# pragma version 0.4.3
"""
@title Leveraged restaking in one call
@notice leverage() restakes the BTC sent, supplies the rsBTC to the lending pool, borrows BTC
        against it and restakes that, round after round, up to a target leverage, keeping the
        health factor above a floor the caller gives; unwind() repays the debt from the BTC
        sent and returns all the rsBTC. Each is one atomic call: it completes or reverts.
@dev Each user's position lives in its own LeverageAccount (created from a blueprint on the
     first call), so users never share a pool position or a purse; two users' calls share
     only counters (the market's scaled debt, the vault's shares of their operator) and the
     pool's native BTC balance, which every BTC borrow reads.
"""


interface ILeverageAccount:
    def leverage(
        operator: address, target_leverage_bps: uint256, min_health: uint256
    ) -> uint256: payable
    def unwind() -> uint256: payable


event Leveraged:
    owner: indexed(address)
    account: indexed(address)
    operator: indexed(address)
    equity: uint256
    staked: uint256

event Unwound:
    owner: indexed(address)
    account: indexed(address)
    shares: uint256


WEI_PER_SAT: constant(uint256) = 10**10

pool: public(immutable(address))
# @notice The rsBTC RestakingVault.
vault: public(immutable(address))
oracle: public(immutable(address))
# @notice ERC-5202 blueprint of LeverageAccount.
account_blueprint: public(immutable(address))

# @notice Each user's leverage account.
accounts: public(HashMap[address, address])


@deploy
def __init__(
    pool_address: address,
    vault_address: address,
    oracle_address: address,
    account_blueprint_address: address,
):
    """
    @param vault_address The rsBTC RestakingVault.
    @param account_blueprint_address LeverageAccount installed as an ERC-5202 blueprint.
    """
    assert pool_address != empty(address), "pool is the zero address"
    assert vault_address != empty(address), "vault is the zero address"
    assert oracle_address != empty(address), "oracle is the zero address"
    assert account_blueprint_address != empty(address), "account blueprint is the zero address"
    pool = pool_address
    vault = vault_address
    oracle = oracle_address
    account_blueprint = account_blueprint_address


@external
@payable
@nonreentrant
def leverage(operator: address, target_leverage_bps: uint256, min_health: uint256) -> uint256:
    """
    @notice Leverage the BTC sent to target_leverage_bps / 10000 times in rsBTC delegated to
            operator; reverts if the health factor would end below min_health (WAD).
    @return The BTC restaked in all rounds, in sats.
    """
    account: address = self.accounts[msg.sender]
    if account == empty(address):
        account = create_from_blueprint(account_blueprint, msg.sender, pool, vault, oracle)
        self.accounts[msg.sender] = account
    staked: uint256 = extcall ILeverageAccount(account).leverage(
        operator, target_leverage_bps, min_health, value=msg.value
    )
    log Leveraged(
        owner=msg.sender,
        account=account,
        operator=operator,
        equity=msg.value // WEI_PER_SAT,
        staked=staked,
    )
    return staked


@external
@payable
@nonreentrant
def unwind() -> uint256:
    """
    @notice Repay the caller's leveraged BTC debt from the BTC sent (the excess is refunded)
            and hand back all its rsBTC.
    @return The rsBTC shares returned.
    """
    account: address = self.accounts[msg.sender]
    assert account != empty(address), "no leveraged position"
    shares: uint256 = extcall ILeverageAccount(account).unwind(value=msg.value)
    log Unwound(owner=msg.sender, account=account, shares=shares)
    return shares
