# pragma version 0.4.3
"""
@title Sluice restaking vault: deployed once per bridged asset (native BTC, USDT)
@notice Stakers deposit the asset with an operator and get shares of that operator's pool;
        the vault is the ERC-20 of those shares (rsBTC, rsUSDT). Each pool has an exchange
        rate (assets per share): rewards paid to the pool raise it after the operator's
        commission, slashes lower it. Unstaking burns shares into a queued withdrawal, valued
        at the pool's queue rate, claimable after `unbonding_blocks` and slashable until
        claimed. Only the court slashes; the Bridge pays its fees in with reward_all, which
        splits them over the active operators pro rata to their stake.
@dev Amounts are in the asset's base units: sats for BTC (1 sat = 10**10 wei of the native
     coin), 10**-8 USDT for USDT. Rates are rays (10**27) of an asset unit per share: a pool
     starts at INITIAL_RATE (1000 shares per asset unit), its queue at RAY (one queue share per
     asset unit), and a rate never drops below 1. Conversions round down, in the vault's
     favour, and a slash takes only what the lower rate frees, so what a pool's shares are
     worth in total (rounded down) never exceeds what the vault holds for it.
     Inflation protection: a reward raises the rate by net * RAY / (shares + VIRTUAL_SHARES),
     so virtual shares worth one asset unit at the initial rate take their part of a reward
     paid into a nearly empty pool (the first-depositor attack costs the attacker about 1000
     times what it takes from a victim); a plain transfer to the vault moves no rate at all.
     Hot-slot layout (parallel execution): rates are written only by rewards and slashes (and
     once, by a pool's first stake); stakes and unstakes read them. Each pool's active and
     queued shares are commutative counters in fixed slots by the operator's registry index
     (`active_shares`, `queued_shares`): stakes, unstakes and claims only add to or subtract
     from them and never branch on or log them; rewards and slashes read them. The parallel
     executor merges such counters (sidechain.predeploys.COUNTER_SLOTS), so a stake writes
     only the staker's own slots besides counters (the vault's balance of the asset: native BTC,
     credited blindly, or its USDT balance slot, itself a counter).
"""

from ethereum.ercs import IERC20

implements: IERC20


interface IRegistry:
    def is_active(operator: address) -> bool: view
    def commission_of(operator: address) -> uint256: view
    def index_of(operator: address) -> uint256: view
    def operators() -> DynArray[address, MAX_OPERATORS]: view


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


struct Rates:
    active: uint256  # rays of an asset unit per active share; zero before the first stake
    queued: uint256  # rays of an asset unit per queue share; zero before the first stake

struct Withdrawal:
    operator: address
    queued_shares: uint256
    claimable_at: uint256
    restake_to: address  # empty: pay out on claim; else stake with this operator
    claimed: bool


MAX_OPERATORS: constant(uint256) = 32
MAX_BPS: constant(uint256) = 10_000
WEI_PER_SAT: constant(uint256) = 10**10
RAY: constant(uint256) = 10**27
INITIAL_RATE: constant(uint256) = RAY // 1000
VIRTUAL_SHARES: constant(uint256) = 1000

# @notice Share decimals: the asset's 8 plus the 3 of the initial rate.
decimals: public(constant(uint8)) = 11
name: public(immutable(String[32]))
symbol: public(immutable(String[8]))
# @notice The staked ERC-20, or the zero address for native BTC.
asset: public(immutable(address))
registry: public(immutable(address))
# @notice The ChallengeCourt, the only account allowed to slash.
court: public(immutable(address))
unbonding_blocks: public(immutable(uint256))

balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])
# @notice The operator whose pool holds the account's shares.
delegated_to: public(HashMap[address, address])
# @notice Each operator's pool rates; written by rewards and slashes only.
rates: public(HashMap[address, Rates])
# @notice Counters: active and queued shares of each pool, by the operator's registry index.
active_shares: public(uint256[MAX_OPERATORS])
queued_shares: public(uint256[MAX_OPERATORS])
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
):
    """
    @param asset_token The ERC-20 staked, or the zero address for native BTC.
    @param unbonding Sidechain blocks from unstake to claim (> 0).
    """
    assert registry_address != empty(address), "registry is the zero address"
    assert court_address != empty(address), "court is the zero address"
    assert unbonding > 0, "unbonding delay is zero"
    name = vault_name
    symbol = vault_symbol
    asset = asset_token
    registry = registry_address
    court = court_address
    unbonding_blocks = unbonding


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
    self._pull(amount)
    return self._stake(msg.sender, operator, amount)


@external
@payable
@nonreentrant
def reward(operator: address, amount: uint256):
    """@notice Pay amount to operator's pool: commission set aside, the rest raises the rate."""
    self._pull(amount)
    self._reward(operator, amount)


@external
@payable
@nonreentrant
def reward_all(amount: uint256):
    """
    @notice Pay amount to the active operators' pools pro rata to their stake (rounding down;
            the remainder goes to the largest stake, so exactly amount is paid in).
    """
    self._pull(amount)
    operators: DynArray[address, MAX_OPERATORS] = staticcall IRegistry(registry).operators()
    stakes: DynArray[uint256, MAX_OPERATORS] = []
    total: uint256 = 0
    largest: uint256 = 0
    for i: uint256 in range(len(operators), bound=MAX_OPERATORS):
        stake: uint256 = 0
        if staticcall IRegistry(registry).is_active(operators[i]):
            stake = self._stake_of(operators[i])
        if i > 0 and stake > stakes[largest]:
            largest = i
        stakes.append(stake)
        total += stake
    assert total > 0, "vault has no stake"
    parts: DynArray[uint256, MAX_OPERATORS] = []
    paid: uint256 = 0
    for stake: uint256 in stakes:
        part: uint256 = amount * stake // total
        parts.append(part)
        paid += part
    parts[largest] += amount - paid
    for i: uint256 in range(len(operators), bound=MAX_OPERATORS):
        if parts[i] > 0:
            self._reward(operators[i], parts[i])


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
    assets: uint256 = w.queued_shares * self.rates[w.operator].queued // RAY
    operator_index: uint256 = self._index(w.operator)
    self.queued_shares[operator_index] -= w.queued_shares
    self.withdrawals[msg.sender][index].claimed = True
    target: address = w.restake_to
    if target != empty(address) and not self._can_restake(msg.sender, target, assets):
        target = empty(address)
    if target == empty(address):
        self._pay(msg.sender, assets)
    else:
        self._stake(msg.sender, target, assets)
    log Claimed(staker=msg.sender, index=index, assets=assets, restaked_to=target)
    return assets


@external
@nonreentrant
def claim_commission() -> uint256:
    """@notice Pay the caller, an operator, the commission it has earned."""
    owed: uint256 = self.commission_owed[msg.sender]
    self.commission_owed[msg.sender] = 0
    self._pay(msg.sender, owed)
    log CommissionClaimed(operator=msg.sender, assets=owed)
    return owed


@external
@nonreentrant
def slash(operator: address, fraction_bps: uint256) -> uint256:
    """
    @notice Cut operator's pool rates, active and queued alike, by fraction_bps and pay what
            that frees to the court; court only. An operator that never had stake loses nothing.
    @return The assets slashed.
    """
    assert msg.sender == court, "only court"
    assert fraction_bps <= MAX_BPS, "fraction above 10000 basis points"
    rates: Rates = self.rates[operator]
    if rates.queued == 0:
        log Slashed(operator=operator, fraction_bps=fraction_bps, assets=0)
        return 0
    index: uint256 = self._index(operator)
    active_taken: uint256 = 0
    queued_taken: uint256 = 0
    active_taken, rates.active = self._cut(self.active_shares[index], rates.active, fraction_bps)
    queued_taken, rates.queued = self._cut(self.queued_shares[index], rates.queued, fraction_bps)
    self.rates[operator] = rates
    self._pay(court, active_taken + queued_taken)
    log Slashed(operator=operator, fraction_bps=fraction_bps, assets=active_taken + queued_taken)
    return active_taken + queued_taken


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
    """@notice Active shares of every pool (sums counters: for calls, not hot paths)."""
    total: uint256 = 0
    for i: uint256 in range(len(staticcall IRegistry(registry).operators()), bound=MAX_OPERATORS):
        total += self.active_shares[i]
    return total


@external
@view
def stake_of(operator: address) -> uint256:
    """@notice Active assets delegated to operator, what its shares are worth."""
    return self._stake_of(operator)


@external
@view
def active_stake() -> uint256:
    """@notice Stake of the active operators: what reward_all pays out over."""
    total: uint256 = 0
    for operator: address in staticcall IRegistry(registry).operators():
        if staticcall IRegistry(registry).is_active(operator):
            total += self._stake_of(operator)
    return total


@external
@view
def assets_of(account: address) -> uint256:
    """@notice What the account's shares would unstake for now."""
    return self.balanceOf[account] * self.rates[self.delegated_to[account]].active // RAY


@external
@view
def convert_to_shares(operator: address, assets: uint256) -> uint256:
    """@notice Shares a deposit of assets with operator mints now."""
    return assets * RAY // self._rate(operator)


@external
@view
def convert_to_assets(operator: address, shares: uint256) -> uint256:
    """@notice Assets that unstaking shares of operator's pool queues now."""
    return shares * self._rate(operator) // RAY


@external
@view
def claimable(staker: address, index: uint256) -> uint256:
    """@notice Assets the withdrawal would pay now (zero once claimed)."""
    w: Withdrawal = self.withdrawals[staker][index]
    if w.claimed:
        return 0
    return w.queued_shares * self.rates[w.operator].queued // RAY


@internal
def _stake(staker: address, operator: address, assets: uint256) -> uint256:
    if self.balanceOf[staker] == 0:
        if self.delegated_to[staker] != operator:
            self.delegated_to[staker] = operator
    else:
        assert self.delegated_to[staker] == operator, "staker delegates to another operator"
    rate: uint256 = self.rates[operator].active
    if rate == 0:
        rate = INITIAL_RATE
        self.rates[operator] = Rates(active=INITIAL_RATE, queued=RAY)
    shares: uint256 = assets * RAY // rate
    assert shares > 0, "deposit mints no shares"
    index: uint256 = self._index(operator)
    self.active_shares[index] += shares
    self.balanceOf[staker] += shares
    log Transfer(sender=empty(address), receiver=staker, value=shares)
    log Staked(staker=staker, operator=operator, assets=assets, shares=shares)
    return shares


@internal
def _reward(operator: address, amount: uint256):
    index: uint256 = self._index(operator)
    shares: uint256 = self.active_shares[index]
    assert shares > 0, "operator has no stake"
    commission: uint256 = amount * staticcall IRegistry(registry).commission_of(operator) // MAX_BPS
    self.commission_owed[operator] += commission
    self.rates[operator].active += (amount - commission) * RAY // (shares + VIRTUAL_SHARES)
    log Rewarded(operator=operator, assets=amount, commission=commission)


@internal
def _queue(staker: address, shares: uint256, restake_to: address) -> uint256:
    assert shares > 0, "shares is zero"
    balance: uint256 = self.balanceOf[staker]
    assert balance >= shares, "unstake amount exceeds balance"
    operator: address = self.delegated_to[staker]
    rates: Rates = self.rates[operator]
    assets: uint256 = shares * rates.active // RAY
    assert assets > 0, "unstake returns no assets"
    queued: uint256 = assets * RAY // rates.queued
    operator_index: uint256 = self._index(operator)
    self.balanceOf[staker] = balance - shares
    self.active_shares[operator_index] -= shares
    self.queued_shares[operator_index] += queued
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
    return assets * RAY // self._rate(operator) > 0


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
def _pull(amount: uint256):
    """@dev Take amount from the caller into the vault."""
    assert amount > 0, "amount is zero"
    if asset == empty(address):
        assert msg.value == amount * WEI_PER_SAT, "msg.value must equal amount * 10**10 wei"
    else:
        assert msg.value == 0, "msg.value must be zero for an ERC-20 vault"
        assert extcall IERC20(asset).transferFrom(msg.sender, self, amount), (
            "token transfer failed"
        )


@internal
def _pay(receiver: address, amount: uint256):
    if amount == 0:
        return
    if asset == empty(address):
        raw_call(receiver, b"", value=amount * WEI_PER_SAT)
    else:
        assert extcall IERC20(asset).transfer(receiver, amount), "token transfer failed"


@internal
@view
def _index(operator: address) -> uint256:
    return staticcall IRegistry(registry).index_of(operator)


@internal
@view
def _rate(operator: address) -> uint256:
    """@dev The pool's active rate, or the one its first stake will get."""
    rate: uint256 = self.rates[operator].active
    if rate == 0:
        return INITIAL_RATE
    return rate


@internal
@view
def _stake_of(operator: address) -> uint256:
    rate: uint256 = self.rates[operator].active
    if rate == 0:
        return 0
    index: uint256 = self._index(operator)
    return self.active_shares[index] * rate // RAY


@internal
@pure
def _cut(shares: uint256, rate: uint256, fraction_bps: uint256) -> (uint256, uint256):
    """
    @dev The assets a slash of fraction_bps takes from shares at rate, and the new rate: what
         all the shares were worth less what they are worth now (both rounded down: no holder
         can claim more than the total rounded down, so the vault keeps covering them).
    """
    new_rate: uint256 = max(rate * (MAX_BPS - fraction_bps) // MAX_BPS, 1)
    return shares * rate // RAY - shares * new_rate // RAY, new_rate
