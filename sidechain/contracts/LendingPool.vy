# pragma version 0.4.3
"""
@title Sluice lending pool: BTC, USDT, rsBTC and rsUSDT markets in the manner of Aave v3
@notice Markets 0 = BTC (the native coin, in sats), 1 = USDT (base units) lend and borrow:
        suppliers hold scaled balances that grow with the market's liquidity index, borrowers
        scaled debts that grow with its borrow index, at a variable rate from a kinked
        utilisation curve; the reserve factor of the interest goes to the market's reserves.
        Markets 2 = rsBTC and 3 = rsUSDT (restaking shares) are collateral only. A borrow
        must stay within the loan-to-value limit and a withdrawal must keep the health factor
        (liquidation-threshold-weighted collateral over debt) at 1 or above. Anyone may
        liquidate a position below 1: half its debt in one market (all of it below 0.95) is
        repaid for collateral plus the market's bonus. Debt that no collateral is left to
        cover is written off as bad debt (by the liquidation that takes the last collateral,
        or by write_off when nothing is left to liquidate), covered from that market's reserves, and what the
        reserves cannot cover is recorded as the market's deficit. A governance key lists and
        configures markets and takes reserves out.
@dev Values are in USD * 10**-8 (oracle prices are per whole coin with 8 decimals, and every
     asset here has 8 decimals). Rounding always favours the pool: balances and seizures
     round down, debts round up.
     rsX collateral sits in a LendingPurse per account (a blueprint contract created on the
     account's first rsX supply): a vault keeps all of an account's shares with one operator,
     so the pool could not hold several operators' shares itself. Its value is
     vault.assets_of(purse) (the operator's own exchange rate) times the underlying's price,
     so a slash lowers it at once.
     Hot-slot layout (parallel execution): per market, the indices and the accrual stamp
     (`indices`) and `reserves` are written at most once per block, by the first operation
     of the block (`accrue` lets the block producer do it up front); later operations in the
     block read them and write nothing there. Totals are split into SHARDS slots keyed by the
     low bits of the account (`supply_shards`, `debt_shards`); an operation writes only its
     account's balance slots and shard. Only the accrual (once per block) and a supply or
     borrow in a capped market read all shards. The pool's own holdings (its native BTC
     balance and its USDT balance slot) are still written by every transfer in or out.
"""

from ethereum.ercs import IERC20

import interest_rate


interface IOracle:
    def price(asset: uint8) -> uint256: view

interface IVault:
    def assets_of(account: address) -> uint256: view
    def balanceOf(account: address) -> uint256: view
    def delegated_to(account: address) -> address: view
    def convert_to_shares(operator: address, assets: uint256) -> uint256: view

interface IPurse:
    def pay(token: address, receiver: address, amount: uint256): nonpayable


event MarketConfigured:
    market: indexed(uint8)
    config: Market

event Accrued:
    market: indexed(uint8)
    liquidity_index: uint256
    borrow_index: uint256
    reserves_added: uint256

event Supplied:
    account: indexed(address)
    market: indexed(uint8)
    amount: uint256
    scaled: uint256

event Withdrawn:
    account: indexed(address)
    market: indexed(uint8)
    amount: uint256
    scaled: uint256

event Borrowed:
    account: indexed(address)
    market: indexed(uint8)
    amount: uint256
    scaled: uint256

event Repaid:
    account: indexed(address)
    market: indexed(uint8)
    amount: uint256
    scaled: uint256

event Liquidated:
    liquidator: indexed(address)
    borrower: indexed(address)
    debt_market: uint8
    collateral_market: uint8
    repaid: uint256
    seized: uint256

event BadDebtWrittenOff:
    account: indexed(address)
    market: indexed(uint8)
    amount: uint256
    covered_by_reserves: uint256

event ReservesWithdrawn:
    market: indexed(uint8)
    amount: uint256
    receiver: address


struct Market:
    listed: bool
    ltv_bps: uint256
    liquidation_threshold_bps: uint256
    liquidation_bonus_bps: uint256
    reserve_factor_bps: uint256
    supply_cap: uint256  # base units; 0 = no cap (loanable markets only)
    borrow_cap: uint256  # base units; 0 = no cap
    base_rate_bps: uint256  # yearly
    slope1_bps: uint256
    slope2_bps: uint256
    optimal_utilisation_bps: uint256

struct Position:
    power: uint256  # collateral weighted by loan-to-value
    weighted: uint256  # collateral weighted by liquidation threshold
    debt: uint256


struct Indices:
    liquidity_index: uint256  # ray
    borrow_index: uint256  # ray
    accrued_block: uint256
    accrued_at: uint256  # timestamp


MARKET_BTC: constant(uint8) = 0
MARKET_USDT: constant(uint8) = 1
MARKET_RSBTC: constant(uint8) = 2
MARKETS: constant(uint8) = 4
# Markets below LOANABLE lend and borrow; the others are restaking collateral.
LOANABLE: constant(uint8) = 2
SHARDS: constant(uint256) = 16
RAY: constant(uint256) = 10**27
WAD: constant(uint256) = 10**18
MAX_BPS: constant(uint256) = 10_000
PRICE_UNIT: constant(uint256) = 10**8
WEI_PER_SAT: constant(uint256) = 10**10
CLOSE_FACTOR_BPS: constant(uint256) = 5_000
# Below this health factor a liquidation may repay all of the debt in a market.
FULL_CLOSE_HEALTH: constant(uint256) = 95 * 10**16

# @notice The price oracle (asset ids: 0 = BTC, 1 = USDT; market m uses asset m % 2).
oracle: public(immutable(address))
usdt: public(immutable(address))
btc_vault: public(immutable(address))
usdt_vault: public(immutable(address))
# @notice ERC-5202 blueprint of LendingPurse.
purse_blueprint: public(immutable(address))

# @notice Lists and configures markets, takes reserves out.
governance: public(address)
markets: public(HashMap[uint8, Market])
# @notice Hot: written once per block per loanable market.
indices: public(HashMap[uint8, Indices])
# @notice Interest set aside for the protocol (base units); written once per block.
reserves: public(HashMap[uint8, uint256])
# @notice Debt ever written off, and the part of it no reserve covered.
bad_debt: public(HashMap[uint8, uint256])
deficit: public(HashMap[uint8, uint256])
scaled_supply: public(HashMap[uint8, HashMap[address, uint256]])
scaled_debt: public(HashMap[uint8, HashMap[address, uint256]])
# @notice Scaled supply and debt summed over the accounts of each shard.
supply_shards: public(HashMap[uint8, uint256[SHARDS]])
debt_shards: public(HashMap[uint8, uint256[SHARDS]])
# @notice Each account's rsBTC and rsUSDT collateral purse (created on first use).
purses: public(HashMap[address, address])


@deploy
def __init__(
    governance_address: address,
    oracle_address: address,
    usdt_address: address,
    btc_vault_address: address,
    usdt_vault_address: address,
    purse_blueprint_address: address,
):
    """
    @param btc_vault_address The rsBTC RestakingVault; usdt_vault_address the rsUSDT one.
    @param purse_blueprint_address LendingPurse installed as an ERC-5202 blueprint.
    """
    assert governance_address != empty(address), "governance is the zero address"
    assert oracle_address != empty(address), "oracle is the zero address"
    assert usdt_address != empty(address), "usdt is the zero address"
    assert btc_vault_address != empty(address), "btc vault is the zero address"
    assert usdt_vault_address != empty(address), "usdt vault is the zero address"
    assert purse_blueprint_address != empty(address), "purse blueprint is the zero address"
    self.governance = governance_address
    oracle = oracle_address
    usdt = usdt_address
    btc_vault = btc_vault_address
    usdt_vault = usdt_vault_address
    purse_blueprint = purse_blueprint_address


@external
def set_governance(new_governance: address):
    """@notice Hand the governance key to new_governance; governance only."""
    assert msg.sender == self.governance, "only governance"
    assert new_governance != empty(address), "governance is the zero address"
    self.governance = new_governance


@external
def configure(market: uint8, config: Market):
    """
    @notice List market or change its risk and rate settings; governance only. Interest up to
            now accrues under the old settings.
    """
    assert msg.sender == self.governance, "only governance"
    assert market < MARKETS, "unknown market"
    assert config.listed, "config must list the market"
    assert config.liquidation_threshold_bps < MAX_BPS, "liquidation threshold not below 100%"
    assert config.ltv_bps <= config.liquidation_threshold_bps, (
        "loan-to-value above the liquidation threshold"
    )
    assert (
        config.liquidation_threshold_bps * (MAX_BPS + config.liquidation_bonus_bps)
        <= MAX_BPS * MAX_BPS
    ), "liquidation threshold plus bonus above 100%"
    assert config.reserve_factor_bps <= MAX_BPS, "reserve factor above 100%"
    if market < LOANABLE:
        assert config.optimal_utilisation_bps > 0, "optimal utilisation out of range 1..9999"
        assert config.optimal_utilisation_bps < MAX_BPS, (
            "optimal utilisation out of range 1..9999"
        )
        if self.indices[market].liquidity_index == 0:
            self.indices[market] = Indices(
                liquidity_index=RAY,
                borrow_index=RAY,
                accrued_block=block.number,
                accrued_at=block.timestamp,
            )
        else:
            self._accrue(market)
    self.markets[market] = config
    log MarketConfigured(market=market, config=config)


@external
def accrue(market: uint8):
    """@notice Bring market's indices up to this block (the producer may call it up front)."""
    assert market < LOANABLE, "market is collateral only"
    self._accrue(market)


@external
@payable
@nonreentrant
def supply(market: uint8, amount: uint256):
    """
    @notice Supply amount: sats (send amount * 10**10 wei), USDT base units (approve first),
            or rsBTC/rsUSDT shares (approve the pool on the vault) held as collateral.
    """
    self._listed(market)
    assert amount > 0, "amount is zero"
    self._accrue_all()
    if market >= LOANABLE:
        assert msg.value == 0, "msg.value must be zero for a token market"
        vault: address = self._vault(market)
        assert extcall IERC20(vault).transferFrom(msg.sender, self._purse(msg.sender), amount), (
            "token transfer failed"
        )
        log Supplied(account=msg.sender, market=market, amount=amount, scaled=amount)
        return
    index: uint256 = self.indices[market].liquidity_index
    scaled: uint256 = amount * RAY // index
    assert scaled > 0, "supply mints no balance"
    cap: uint256 = self.markets[market].supply_cap
    if cap != 0:
        supplied: uint256 = self._sum(self.supply_shards[market]) * index // RAY
        assert supplied + amount <= cap, "supply cap exceeded"
    self._pull(market, amount)
    self._add_supply(market, msg.sender, scaled)
    log Supplied(account=msg.sender, market=market, amount=amount, scaled=scaled)


@external
@nonreentrant
def withdraw(market: uint8, amount: uint256) -> uint256:
    """
    @notice Withdraw amount (max_value(uint256): everything) of the caller's supply; refused
            if it would put the health factor below 1.
    @return The amount withdrawn.
    """
    self._listed(market)
    self._accrue_all()
    paid: uint256 = amount
    if market >= LOANABLE:
        purse: address = self.purses[msg.sender]
        vault: address = self._vault(market)
        held: uint256 = 0
        if purse != empty(address):
            held = staticcall IERC20(vault).balanceOf(purse)
        if amount == max_value(uint256):
            paid = held
        assert paid > 0, "amount is zero"
        assert paid <= held, "withdrawal exceeds the supplied balance"
        extcall IPurse(purse).pay(vault, msg.sender, paid)
        log Withdrawn(account=msg.sender, market=market, amount=paid, scaled=paid)
    else:
        index: uint256 = self.indices[market].liquidity_index
        balance: uint256 = self.scaled_supply[market][msg.sender]
        scaled: uint256 = balance
        if amount == max_value(uint256):
            paid = balance * index // RAY
        else:
            scaled = self._div_up(amount * RAY, index)
        assert paid > 0, "amount is zero"
        assert scaled <= balance, "withdrawal exceeds the supplied balance"
        assert paid <= self._cash(market), "not enough liquidity in the market"
        self._sub_supply(market, msg.sender, scaled)
        self._push(market, msg.sender, paid)
        log Withdrawn(account=msg.sender, market=market, amount=paid, scaled=scaled)
    held: Position = self._position(msg.sender)
    assert held.weighted >= held.debt, "withdrawal would put the health factor below 1"
    return paid


@external
@nonreentrant
def borrow(market: uint8, amount: uint256):
    """@notice Borrow amount at the variable rate; refused beyond the loan-to-value limit."""
    self._listed(market)
    assert market < LOANABLE, "market is collateral only"
    assert amount > 0, "amount is zero"
    self._accrue_all()
    assert amount <= self._cash(market), "not enough liquidity in the market"
    index: uint256 = self.indices[market].borrow_index
    cap: uint256 = self.markets[market].borrow_cap
    if cap != 0:
        borrowed: uint256 = self._sum(self.debt_shards[market]) * index // RAY
        assert borrowed + amount <= cap, "borrow cap exceeded"
    scaled: uint256 = self._div_up(amount * RAY, index)
    self.scaled_debt[market][msg.sender] += scaled
    self.debt_shards[market][self._shard(msg.sender)] += scaled
    held: Position = self._position(msg.sender)
    assert held.debt <= held.power, "borrow exceeds the loan-to-value limit"
    self._push(market, msg.sender, amount)
    log Borrowed(account=msg.sender, market=market, amount=amount, scaled=scaled)


@external
@payable
@nonreentrant
def repay(market: uint8, amount: uint256) -> uint256:
    """
    @notice Repay up to amount of the caller's debt (BTC: send amount * 10**10 wei, the
            excess is refunded; USDT: max_value(uint256) repays it all).
    @return The amount repaid.
    """
    self._listed(market)
    assert market < LOANABLE, "market is collateral only"
    assert amount > 0, "amount is zero"
    self._accrue_all()
    owed: uint256 = self._owed(market, msg.sender)
    assert owed > 0, "no debt to repay"
    paid: uint256 = min(amount, owed)
    self._pay_in(market, amount, paid)
    scaled: uint256 = self._reduce_debt(market, msg.sender, paid, owed)
    log Repaid(account=msg.sender, market=market, amount=paid, scaled=scaled)
    return paid


@external
@payable
@nonreentrant
def liquidate(
    borrower: address, debt_market: uint8, collateral_market: uint8, amount: uint256
) -> uint256:
    """
    @notice Repay up to amount of borrower's debt in debt_market (at most half of it, all of
            it below health factor 0.95) and take its value plus the bonus from borrower's
            collateral in collateral_market: supply balance for BTC and USDT, restaking shares
            for rsBTC and rsUSDT. BTC debt: send amount * 10**10 wei, the excess is refunded.
    @return The debt repaid.
    """
    self._listed(debt_market)
    assert debt_market < LOANABLE, "market is collateral only"
    self._listed(collateral_market)
    bonus: uint256 = self.markets[collateral_market].liquidation_bonus_bps
    assert amount > 0, "amount is zero"
    self._accrue_all()
    held: Position = self._position(borrower)
    assert held.weighted < held.debt, "position is healthy: health factor is not below 1"
    owed: uint256 = self._owed(debt_market, borrower)
    assert owed > 0, "borrower has no debt in this market"
    available: uint256 = self._collateral_assets(collateral_market, borrower)
    assert available > 0, "borrower has no collateral in this market"
    close: uint256 = CLOSE_FACTOR_BPS
    if held.weighted * WAD < held.debt * FULL_CLOSE_HEALTH:
        close = MAX_BPS
    repaid: uint256 = min(amount, owed * close // MAX_BPS)
    debt_price: uint256 = staticcall IOracle(oracle).price(debt_market % 2)
    collateral_price: uint256 = staticcall IOracle(oracle).price(collateral_market % 2)
    seized: uint256 = repaid * debt_price * (MAX_BPS + bonus) // (MAX_BPS * collateral_price)
    if seized >= available:
        seized = available
        repaid = min(
            repaid, available * collateral_price * MAX_BPS // (debt_price * (MAX_BPS + bonus))
        )
    assert repaid > 0, "liquidation repays nothing"
    self._pay_in(debt_market, amount, repaid)
    self._reduce_debt(debt_market, borrower, repaid, owed)
    self._seize(collateral_market, borrower, seized, seized == available)
    log Liquidated(
        liquidator=msg.sender,
        borrower=borrower,
        debt_market=debt_market,
        collateral_market=collateral_market,
        repaid=repaid,
        seized=seized,
    )
    if not self._has_collateral(borrower):
        self._write_off(borrower)
    return repaid


@external
@nonreentrant
def write_off(borrower: address):
    """
    @notice Write off the debt of a borrower with no collateral left (say, rsBTC slashed to
            nothing), which no liquidation can reach; anyone may call it.
    """
    self._accrue_all()
    assert not self._has_collateral(borrower), "borrower still has collateral"
    has_debt: bool = False
    for market: uint8 in range(LOANABLE):
        if self.scaled_debt[market][borrower] != 0:
            has_debt = True
    assert has_debt, "borrower has no debt"
    self._write_off(borrower)


@external
@nonreentrant
def withdraw_reserves(market: uint8, amount: uint256, receiver: address):
    """@notice Pay amount of market's reserves to receiver; governance only."""
    assert msg.sender == self.governance, "only governance"
    assert market < LOANABLE, "market is collateral only"
    self._accrue(market)
    assert amount <= self.reserves[market], "amount exceeds the reserves"
    assert amount <= self._cash(market), "not enough liquidity in the market"
    self.reserves[market] -= amount
    self._push(market, receiver, amount)
    log ReservesWithdrawn(market=market, amount=amount, receiver=receiver)


@external
@view
def health_factor(account: address) -> uint256:
    """@notice Weighted collateral over debt, in WAD (10**18 = 1); max_value without debt."""
    held: Position = self._position(account)
    if held.debt == 0:
        return max_value(uint256)
    return held.weighted * WAD // held.debt


@external
@view
def position(account: address) -> Position:
    """@notice Weighted collateral and debt in USD * 10**-8, at the last accrual's indices."""
    return self._position(account)


@external
@view
def supply_balance(market: uint8, account: address) -> uint256:
    """@notice What account could withdraw from market, ignoring health (last accrual)."""
    return self._collateral_assets(market, account)


@external
@view
def debt_balance(market: uint8, account: address) -> uint256:
    """@notice What account owes in market (at the last accrual)."""
    return self._owed(market, account)


@external
@view
def total_supplied(market: uint8) -> uint256:
    """@notice Suppliers' claims in market at the last accrual (sums the shards)."""
    return self._sum(self.supply_shards[market]) * self.indices[market].liquidity_index // RAY


@external
@view
def total_borrowed(market: uint8) -> uint256:
    """@notice Debt in market at the last accrual (sums the shards)."""
    return self._sum(self.debt_shards[market]) * self.indices[market].borrow_index // RAY


@external
@view
def rates(market: uint8) -> (uint256, uint256, uint256):
    """
    @notice (utilisation, yearly borrow rate, yearly supply rate), all in rays, from the totals
            and indices of the last accrual (sums the shards: for calls, not hot paths).
    """
    assert market < LOANABLE, "market is collateral only"
    state: Indices = self.indices[market]
    used: uint256 = interest_rate.utilisation(
        self._sum(self.debt_shards[market]) * state.borrow_index // RAY,
        self._sum(self.supply_shards[market]) * state.liquidity_index // RAY,
    )
    rate: uint256 = interest_rate.borrow_rate(
        used,
        self.markets[market].base_rate_bps,
        self.markets[market].slope1_bps,
        self.markets[market].slope2_bps,
        self.markets[market].optimal_utilisation_bps,
    )
    kept: uint256 = MAX_BPS - self.markets[market].reserve_factor_bps
    return used, rate, rate * used // RAY * kept // MAX_BPS


@internal
def _accrue_all():
    for market: uint8 in range(LOANABLE):
        self._accrue(market)


@internal
def _accrue(market: uint8):
    """
    @dev At most once per block: a second call in the same block reads one slot only (as
         does a call for a market not listed yet, whose stamp is zero).
    """
    accrued_block: uint256 = self.indices[market].accrued_block
    if accrued_block == block.number or accrued_block == 0:
        return
    state: Indices = self.indices[market]
    elapsed: uint256 = block.timestamp - state.accrued_at
    scaled_debt: uint256 = 0
    if elapsed > 0:
        scaled_debt = self._sum(self.debt_shards[market])
    if scaled_debt == 0:
        self.indices[market].accrued_block = block.number
        self.indices[market].accrued_at = block.timestamp
        return
    scaled_supply: uint256 = self._sum(self.supply_shards[market])
    debt: uint256 = scaled_debt * state.borrow_index // RAY
    rate: uint256 = interest_rate.borrow_rate(
        interest_rate.utilisation(debt, scaled_supply * state.liquidity_index // RAY),
        self.markets[market].base_rate_bps,
        self.markets[market].slope1_bps,
        self.markets[market].slope2_bps,
        self.markets[market].optimal_utilisation_bps,
    )
    borrow_index: uint256 = interest_rate.grow(state.borrow_index, rate, elapsed)
    interest: uint256 = scaled_debt * borrow_index // RAY - debt
    cut: uint256 = interest * self.markets[market].reserve_factor_bps // MAX_BPS
    liquidity_index: uint256 = state.liquidity_index
    if scaled_supply == 0:
        cut = interest
    else:
        liquidity_index += (interest - cut) * RAY // scaled_supply
    if cut != 0:
        self.reserves[market] += cut
    self.indices[market] = Indices(
        liquidity_index=liquidity_index,
        borrow_index=borrow_index,
        accrued_block=block.number,
        accrued_at=block.timestamp,
    )
    log Accrued(
        market=market,
        liquidity_index=liquidity_index,
        borrow_index=borrow_index,
        reserves_added=cut,
    )


@internal
@view
def _position(account: address) -> Position:
    held: Position = empty(Position)
    for market: uint8 in range(MARKETS):
        collateral: uint256 = self._collateral_assets(market, account)
        owed: uint256 = 0
        if market < LOANABLE:
            owed = self._owed(market, account)
        if collateral == 0 and owed == 0:
            continue
        price: uint256 = staticcall IOracle(oracle).price(market % 2)
        if collateral != 0:
            value: uint256 = collateral * price // PRICE_UNIT
            held.power += value * self.markets[market].ltv_bps // MAX_BPS
            held.weighted += value * self.markets[market].liquidation_threshold_bps // MAX_BPS
        held.debt += self._div_up(owed * price, PRICE_UNIT)
    return held


@internal
@view
def _collateral_assets(market: uint8, account: address) -> uint256:
    """@dev Supply balance (BTC, USDT) or the purse's restaked assets (rsBTC, rsUSDT)."""
    if market < LOANABLE:
        return self.scaled_supply[market][account] * self.indices[market].liquidity_index // RAY
    purse: address = self.purses[account]
    if purse == empty(address):
        return 0
    return staticcall IVault(self._vault(market)).assets_of(purse)


@internal
@view
def _has_collateral(account: address) -> bool:
    for market: uint8 in range(MARKETS):
        if self._collateral_assets(market, account) != 0:
            return True
    return False


@internal
@view
def _owed(market: uint8, account: address) -> uint256:
    return self._div_up(
        self.scaled_debt[market][account] * self.indices[market].borrow_index, RAY
    )


@internal
def _reduce_debt(market: uint8, account: address, paid: uint256, owed: uint256) -> uint256:
    """@dev Scaled debt cancelled by paying `paid` of `owed`: all of it only for a full repay."""
    scaled: uint256 = self.scaled_debt[market][account]
    if paid < owed:
        scaled = paid * RAY // self.indices[market].borrow_index
    self.scaled_debt[market][account] -= scaled
    self.debt_shards[market][self._shard(account)] -= scaled
    return scaled


@internal
def _seize(market: uint8, borrower: address, assets: uint256, everything: bool):
    """@dev Give the liquidator borrower's collateral worth `assets` (all of it if everything)."""
    if market < LOANABLE:
        scaled: uint256 = self.scaled_supply[market][borrower]
        if not everything:
            scaled = assets * RAY // self.indices[market].liquidity_index
        self._sub_supply(market, borrower, scaled)
        self._add_supply(market, msg.sender, scaled)
        return
    vault: address = self._vault(market)
    purse: address = self.purses[borrower]
    shares: uint256 = staticcall IERC20(vault).balanceOf(purse)
    if not everything:
        operator: address = staticcall IVault(vault).delegated_to(purse)
        shares = staticcall IVault(vault).convert_to_shares(operator, assets)
    extcall IPurse(purse).pay(vault, msg.sender, shares)


@internal
def _write_off(account: address):
    """@dev account has debt and no collateral left: cancel the debt, cover it from reserves."""
    for market: uint8 in range(LOANABLE):
        owed: uint256 = self._owed(market, account)
        if owed == 0:
            continue
        scaled: uint256 = self.scaled_debt[market][account]
        self.scaled_debt[market][account] = 0
        self.debt_shards[market][self._shard(account)] -= scaled
        covered: uint256 = min(owed, self.reserves[market])
        self.reserves[market] -= covered
        self.bad_debt[market] += owed
        self.deficit[market] += owed - covered
        log BadDebtWrittenOff(
            account=account, market=market, amount=owed, covered_by_reserves=covered
        )


@internal
def _add_supply(market: uint8, account: address, scaled: uint256):
    self.scaled_supply[market][account] += scaled
    self.supply_shards[market][self._shard(account)] += scaled


@internal
def _sub_supply(market: uint8, account: address, scaled: uint256):
    self.scaled_supply[market][account] -= scaled
    self.supply_shards[market][self._shard(account)] -= scaled


@internal
@payable
def _pull(market: uint8, amount: uint256):
    """@dev Take amount from the caller into the pool."""
    if market == MARKET_BTC:
        assert msg.value == amount * WEI_PER_SAT, "msg.value must equal amount * 10**10 wei"
    else:
        assert msg.value == 0, "msg.value must be zero for a token market"
        assert extcall IERC20(usdt).transferFrom(msg.sender, self, amount), (
            "token transfer failed"
        )


@internal
@payable
def _pay_in(market: uint8, offered: uint256, used: uint256):
    """@dev Take `used` of the `offered` amount from the caller; refund unused BTC."""
    if market == MARKET_BTC:
        assert msg.value == offered * WEI_PER_SAT, "msg.value must equal amount * 10**10 wei"
        if offered > used:
            raw_call(msg.sender, b"", value=(offered - used) * WEI_PER_SAT)
    else:
        self._pull(market, used)


@internal
def _push(market: uint8, receiver: address, amount: uint256):
    if market == MARKET_BTC:
        raw_call(receiver, b"", value=amount * WEI_PER_SAT)
    else:
        assert extcall IERC20(usdt).transfer(receiver, amount), "token transfer failed"


@internal
@view
def _cash(market: uint8) -> uint256:
    """@dev What the pool holds of a loanable market's asset."""
    if market == MARKET_BTC:
        return self.balance // WEI_PER_SAT
    return staticcall IERC20(usdt).balanceOf(self)


@internal
def _purse(account: address) -> address:
    purse: address = self.purses[account]
    if purse == empty(address):
        purse = create_from_blueprint(purse_blueprint)
        self.purses[account] = purse
    return purse


@internal
@view
def _listed(market: uint8):
    assert market < MARKETS, "unknown market"
    assert self.markets[market].listed, "market not listed"


@internal
@view
def _vault(market: uint8) -> address:
    if market == MARKET_RSBTC:
        return btc_vault
    return usdt_vault


@internal
@pure
def _shard(account: address) -> uint256:
    return convert(account, uint256) % SHARDS


@internal
@pure
def _sum(shards: uint256[SHARDS]) -> uint256:
    total: uint256 = 0
    for value: uint256 in shards:
        total += value
    return total


@internal
@pure
def _div_up(numerator: uint256, denominator: uint256) -> uint256:
    return (numerator + denominator - 1) // denominator
