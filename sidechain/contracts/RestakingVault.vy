# pragma version 0.4.3
"""
@title Sluice restaking vault: deployed once per bridged asset (native BTC, USDT)
@notice Stakers deposit the asset and get shares of the pool of the operator they delegate
        to; the vault is the ERC-20 of those shares (rsBTC, rsUSDT). Rewards paid to an
        operator's pool raise its exchange rate (assets per share) after the operator's
        commission. Unstaking burns shares into a queued withdrawal, claimable after
        `unbonding_blocks` and slashable until claimed. Only the court slashes.
@dev Amounts are in the asset's base units: sats for BTC (1 sat = 10**10 wei of the native
     coin), 10**-8 USDT for USDT. Each operator has its own pool: active shares and assets, and
     a queue with its own shares and assets, so a reward or a slash is O(1) and touches only
     that operator's slots, and a slash cuts delegators and queued withdrawals pro rata.
     Conversions use a virtual offset of VIRTUAL_SHARES shares and 1 asset unit per pool (the
     first-depositor inflation attack then costs the attacker about 1000 times what it takes
     from a victim) and always round down, in the vault's favour.
     All of an account's shares are in the pool of the operator it delegates to, so shares
     move (transfer) only between accounts of one operator; redelegating goes through the queue.
     Hot-slot rule: a stake writes only the staker's balance and delegation and its operator's
     pool (for USDT also the token balances of the staker and of the operator's purse, a
     contract per operator); there is no total supply slot: totalSupply() sums the pools.
"""

from ethereum.ercs import IERC20

implements: IERC20


interface IRegistry:
    def is_active(operator: address) -> bool: view
    def commission_of(operator: address) -> uint256: view
    def operators() -> DynArray[address, MAX_OPERATORS]: view

interface IPurse:
    def pay(receiver: address, amount: uint256): nonpayable


event Transfer:
    sender: indexed(address)
    receiver: indexed(address)
    value: uint256

event Approval:
    owner: indexed(address)
    spender: indexed(address)
    value: uint256

event Staked:
    staker: indexed(address)
    operator: indexed(address)
    assets: uint256
    shares: uint256

event Rewarded:
    operator: indexed(address)
    assets: uint256
    commission: uint256

event UnstakeQueued:
    staker: indexed(address)
    operator: indexed(address)
    index: uint256
    shares: uint256
    assets: uint256
    claimable_at: uint256
    restake_to: address

event Claimed:
    staker: indexed(address)
    index: uint256
    assets: uint256
    restaked_to: address

event Slashed:
    operator: indexed(address)
    fraction_bps: uint256
    assets: uint256

event CommissionClaimed:
    operator: indexed(address)
    assets: uint256


struct Pool:
    shares: uint256
    assets: uint256
    queued_shares: uint256
    queued_assets: uint256

struct Withdrawal:
    operator: address
    queued_shares: uint256
    claimable_at: uint256
    restake_to: address  # empty: pay out on claim; else stake with this operator
    claimed: bool


MAX_OPERATORS: constant(uint256) = 32
MAX_BPS: constant(uint256) = 10_000
WEI_PER_SAT: constant(uint256) = 10**10
VIRTUAL_SHARES: constant(uint256) = 10**3
VIRTUAL_ASSETS: constant(uint256) = 1

# @notice Share decimals: the asset's 8 plus the 3 of the virtual offset.
decimals: public(constant(uint8)) = 11
name: public(immutable(String[32]))
symbol: public(immutable(String[8]))
# @notice The staked ERC-20, or the zero address for native BTC.
asset: public(immutable(address))
registry: public(immutable(address))
# @notice The ChallengeCourt, the only account allowed to slash.
court: public(immutable(address))
unbonding_blocks: public(immutable(uint256))
# @notice ERC-5202 blueprint of RestakingPurse (ERC-20 vaults only).
purse_blueprint: public(immutable(address))

balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])
# @notice The operator whose pool holds the account's shares.
delegated_to: public(HashMap[address, address])
pools: public(HashMap[address, Pool])
# @notice The purse holding each operator's tokens (ERC-20 vaults only).
purses: public(HashMap[address, address])
commission_owed: public(HashMap[address, uint256])
# @notice withdrawals[staker][index]; indexes count per staker from 0.
withdrawals: public(HashMap[address, HashMap[uint256, Withdrawal]])
withdrawal_count: public(HashMap[address, uint256])


@deploy
def __init__(
    vault_name: String[32],
    vault_symbol: String[8],
    asset_token: address,
    registry_address: address,
    court_address: address,
    unbonding: uint256,
    purse_blueprint_address: address,
):
    """
    @param asset_token The ERC-20 staked, or the zero address for native BTC.
    @param unbonding Sidechain blocks from unstake to claim (> 0).
    @param purse_blueprint_address RestakingPurse blueprint; the zero address for native BTC.
    """
    assert registry_address != empty(address), "registry is the zero address"
    assert court_address != empty(address), "court is the zero address"
    assert unbonding > 0, "unbonding delay is zero"
    is_native: bool = asset_token == empty(address)
    assert is_native == (purse_blueprint_address == empty(address)), (
        "a purse blueprint is needed for an ERC-20 asset only"
    )
    name = vault_name
    symbol = vault_symbol
    asset = asset_token
    registry = registry_address
    court = court_address
    unbonding_blocks = unbonding
    purse_blueprint = purse_blueprint_address


@external
@payable
@nonreentrant
def deposit(operator: address, amount: uint256) -> uint256:
    """
    @notice Stake amount with operator (the caller's operator if it holds shares already).
    @dev For BTC send amount * 10**10 wei; for an ERC-20 approve the vault first.
    @return The shares minted.
    """
    assert staticcall IRegistry(registry).is_active(operator), "operator not active"
    self._pull(operator, amount)
    shares: uint256 = self._stake(msg.sender, operator, amount)
    assert shares > 0, "deposit mints no shares"
    return shares


@external
@payable
@nonreentrant
def reward(operator: address, amount: uint256):
    """@notice Pay amount to operator's pool: commission set aside, the rest raises the rate."""
    assert self.pools[operator].shares > 0, "operator has no stake"
    self._pull(operator, amount)
    commission: uint256 = amount * staticcall IRegistry(registry).commission_of(operator) // MAX_BPS
    self.commission_owed[operator] += commission
    self.pools[operator].assets += amount - commission
    log Rewarded(operator=operator, assets=amount, commission=commission)


@external
@nonreentrant
def unstake(shares: uint256) -> uint256:
    """@notice Burn shares into a withdrawal claimable after the unbonding delay; its index."""
    return self._queue(msg.sender, shares, empty(address))


@external
@nonreentrant
def redelegate(operator: address) -> uint256:
    """@notice Queue all the caller's shares to be staked with operator when claimed."""
    assert staticcall IRegistry(registry).is_active(operator), "operator not active"
    assert operator != self.delegated_to[msg.sender], "already delegated to this operator"
    return self._queue(msg.sender, self.balanceOf[msg.sender], operator)


@external
@nonreentrant
def claim(index: uint256) -> uint256:
    """
    @notice Complete the caller's withdrawal after its delay: pay it out, or stake it with the
            redelegation target (paid out instead if that can no longer be done).
    @return The assets paid or restaked.
    """
    w: Withdrawal = self.withdrawals[msg.sender][index]
    assert w.operator != empty(address), "unknown withdrawal"
    assert not w.claimed, "withdrawal already claimed"
    assert block.number >= w.claimable_at, "withdrawal still unbonding"
    pool: Pool = self.pools[w.operator]
    assets: uint256 = self._to_assets(w.queued_shares, pool.queued_assets, pool.queued_shares)
    self.pools[w.operator].queued_shares = pool.queued_shares - w.queued_shares
    self.pools[w.operator].queued_assets = pool.queued_assets - assets
    self.withdrawals[msg.sender][index].claimed = True
    target: address = w.restake_to
    if target != empty(address) and not self._can_restake(msg.sender, target, assets):
        target = empty(address)
    if target == empty(address):
        self._pay(w.operator, msg.sender, assets)
    else:
        self._move(w.operator, target, assets)
        self._stake(msg.sender, target, assets)
    log Claimed(staker=msg.sender, index=index, assets=assets, restaked_to=target)
    return assets


@external
@nonreentrant
def claim_commission() -> uint256:
    """@notice Pay the caller, an operator, the commission it has earned."""
    owed: uint256 = self.commission_owed[msg.sender]
    self.commission_owed[msg.sender] = 0
    self._pay(msg.sender, msg.sender, owed)
    log CommissionClaimed(operator=msg.sender, assets=owed)
    return owed


@external
@nonreentrant
def slash(operator: address, fraction_bps: uint256) -> uint256:
    """
    @notice Take fraction_bps of operator's pool, active and queued alike, and pay it to the
            court; court only.
    @return The assets slashed.
    """
    assert msg.sender == court, "only court"
    assert fraction_bps <= MAX_BPS, "fraction above 10000 basis points"
    pool: Pool = self.pools[operator]
    active: uint256 = pool.assets * fraction_bps // MAX_BPS
    queued: uint256 = pool.queued_assets * fraction_bps // MAX_BPS
    self.pools[operator].assets = pool.assets - active
    self.pools[operator].queued_assets = pool.queued_assets - queued
    self._pay(operator, court, active + queued)
    log Slashed(operator=operator, fraction_bps=fraction_bps, assets=active + queued)
    return active + queued


@external
def transfer(receiver: address, amount: uint256) -> bool:
    """@notice Move shares to receiver, who must have no shares or the same operator."""
    self._transfer(msg.sender, receiver, amount)
    return True


@external
def transferFrom(sender: address, receiver: address, amount: uint256) -> bool:
    """@notice Move sender's shares to receiver using the caller's allowance."""
    allowed: uint256 = self.allowance[sender][msg.sender]
    if allowed != max_value(uint256):
        assert allowed >= amount, "transfer amount exceeds allowance"
        self.allowance[sender][msg.sender] = allowed - amount
    self._transfer(sender, receiver, amount)
    return True


@external
def approve(spender: address, amount: uint256) -> bool:
    """@notice Let spender move up to amount of the caller's shares."""
    assert spender != empty(address), "approve to the zero address"
    self.allowance[msg.sender][spender] = amount
    log Approval(owner=msg.sender, spender=spender, value=amount)
    return True


@external
@view
def totalSupply() -> uint256:
    """@notice Active shares of every pool (a loop over operators: for calls, not hot paths)."""
    total: uint256 = 0
    for operator: address in staticcall IRegistry(registry).operators():
        total += self.pools[operator].shares
    return total


@external
@view
def stake_of(operator: address) -> uint256:
    """@notice Active assets delegated to operator (zero once no shares are left)."""
    if self.pools[operator].shares == 0:
        return 0
    return self.pools[operator].assets


@external
@view
def assets_of(account: address) -> uint256:
    """@notice What the account's shares would unstake for now."""
    pool: Pool = self.pools[self.delegated_to[account]]
    return self._to_assets(self.balanceOf[account], pool.assets, pool.shares)


@external
@view
def convert_to_shares(operator: address, assets: uint256) -> uint256:
    """@notice Shares a deposit of assets with operator mints now."""
    pool: Pool = self.pools[operator]
    return self._to_shares(assets, pool.assets, pool.shares)


@external
@view
def convert_to_assets(operator: address, shares: uint256) -> uint256:
    """@notice Assets that unstaking shares of operator's pool queues now."""
    pool: Pool = self.pools[operator]
    return self._to_assets(shares, pool.assets, pool.shares)


@external
@view
def claimable(staker: address, index: uint256) -> uint256:
    """@notice Assets the withdrawal would pay now (zero once claimed)."""
    w: Withdrawal = self.withdrawals[staker][index]
    if w.claimed:
        return 0
    pool: Pool = self.pools[w.operator]
    return self._to_assets(w.queued_shares, pool.queued_assets, pool.queued_shares)


@internal
def _stake(staker: address, operator: address, assets: uint256) -> uint256:
    if self.balanceOf[staker] == 0:
        if self.delegated_to[staker] != operator:
            self.delegated_to[staker] = operator
    else:
        assert self.delegated_to[staker] == operator, "staker delegates to another operator"
    pool: Pool = self.pools[operator]
    shares: uint256 = self._to_shares(assets, pool.assets, pool.shares)
    self.pools[operator].shares = pool.shares + shares
    self.pools[operator].assets = pool.assets + assets
    self.balanceOf[staker] += shares
    log Transfer(sender=empty(address), receiver=staker, value=shares)
    log Staked(staker=staker, operator=operator, assets=assets, shares=shares)
    return shares


@internal
def _queue(staker: address, shares: uint256, restake_to: address) -> uint256:
    assert shares > 0, "shares is zero"
    balance: uint256 = self.balanceOf[staker]
    assert balance >= shares, "unstake amount exceeds balance"
    operator: address = self.delegated_to[staker]
    pool: Pool = self.pools[operator]
    assets: uint256 = self._to_assets(shares, pool.assets, pool.shares)
    assert assets > 0, "unstake returns no assets"
    queued: uint256 = self._to_shares(assets, pool.queued_assets, pool.queued_shares)
    self.balanceOf[staker] = balance - shares
    self.pools[operator] = Pool(
        shares=pool.shares - shares,
        assets=pool.assets - assets,
        queued_shares=pool.queued_shares + queued,
        queued_assets=pool.queued_assets + assets,
    )
    index: uint256 = self.withdrawal_count[staker]
    self.withdrawal_count[staker] = index + 1
    claimable_at: uint256 = block.number + unbonding_blocks
    self.withdrawals[staker][index] = Withdrawal(
        operator=operator,
        queued_shares=queued,
        claimable_at=claimable_at,
        restake_to=restake_to,
        claimed=False,
    )
    log Transfer(sender=staker, receiver=empty(address), value=shares)
    log UnstakeQueued(
        staker=staker,
        operator=operator,
        index=index,
        shares=shares,
        assets=assets,
        claimable_at=claimable_at,
        restake_to=restake_to,
    )
    return index


@internal
@view
def _can_restake(staker: address, operator: address, assets: uint256) -> bool:
    """@dev A claim restakes only where a deposit could: active operator, compatible holder."""
    if not staticcall IRegistry(registry).is_active(operator):
        return False
    if self.balanceOf[staker] != 0 and self.delegated_to[staker] != operator:
        return False
    pool: Pool = self.pools[operator]
    return self._to_shares(assets, pool.assets, pool.shares) > 0


@internal
def _transfer(sender: address, receiver: address, amount: uint256):
    assert receiver != empty(address), "transfer to the zero address"
    balance: uint256 = self.balanceOf[sender]
    assert balance >= amount, "transfer amount exceeds balance"
    operator: address = self.delegated_to[sender]
    if self.balanceOf[receiver] == 0:
        if self.delegated_to[receiver] != operator:
            self.delegated_to[receiver] = operator
    else:
        assert self.delegated_to[receiver] == operator, "receiver delegates to another operator"
    self.balanceOf[sender] = balance - amount
    self.balanceOf[receiver] += amount
    log Transfer(sender=sender, receiver=receiver, value=amount)


@internal
@payable
def _pull(operator: address, amount: uint256):
    """@dev Take amount from the caller into operator's holdings (the vault, or its purse)."""
    assert amount > 0, "amount is zero"
    if asset == empty(address):
        assert msg.value == amount * WEI_PER_SAT, "msg.value must equal amount * 10**10 wei"
    else:
        assert msg.value == 0, "msg.value must be zero for an ERC-20 vault"
        purse: address = self._purse(operator)
        assert extcall IERC20(asset).transferFrom(msg.sender, purse, amount), (
            "token transfer failed"
        )


@internal
def _pay(operator: address, receiver: address, amount: uint256):
    """@dev Pay amount out of operator's holdings."""
    if amount == 0:
        return
    if asset == empty(address):
        raw_call(receiver, b"", value=amount * WEI_PER_SAT)
    else:
        extcall IPurse(self.purses[operator]).pay(receiver, amount)


@internal
def _move(source: address, target: address, amount: uint256):
    """@dev Move amount from source's holdings to target's (nothing to move for native BTC)."""
    if asset != empty(address) and amount > 0:
        extcall IPurse(self.purses[source]).pay(self._purse(target), amount)


@internal
def _purse(operator: address) -> address:
    """@dev The operator's purse, created on first use; the vault itself for native BTC."""
    if asset == empty(address):
        return self
    purse: address = self.purses[operator]
    if purse == empty(address):
        purse = create_from_blueprint(purse_blueprint, asset)
        self.purses[operator] = purse
    return purse


@internal
@pure
def _to_shares(assets: uint256, total_assets: uint256, total_shares: uint256) -> uint256:
    return assets * (total_shares + VIRTUAL_SHARES) // (total_assets + VIRTUAL_ASSETS)


@internal
@pure
def _to_assets(shares: uint256, total_assets: uint256, total_shares: uint256) -> uint256:
    return shares * (total_assets + VIRTUAL_ASSETS) // (total_shares + VIRTUAL_SHARES)
