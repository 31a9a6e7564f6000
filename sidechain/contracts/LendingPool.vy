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
        or by write_off when nothing is left to liquidate), covered from that market's
        reserves; what they cannot cover shows as the market's deficit. A governance key lists
        and configures markets and takes reserves out.
@dev Values are in USD * 10**-8 (oracle prices are per whole coin with 8 decimals, and every
     asset here has 8 decimals). Rounding always favours the pool: balances and seizures
     round down, debts round up.
     rsX collateral sits in a LendingPurse per account (a blueprint contract created on the
     account's first rsX supply): a vault keeps all of an account's shares with one operator,
     so the pool could not hold several operators' shares itself. Its value is
     vault.assets_of(purse) (the operator's own exchange rate) times the underlying's price,
     so a slash lowers it at once.
     Interest: each loanable market has checkpoints. A checkpoint holds the liquidity and
     borrow indices at its timestamp and the yearly borrow rate from then on; between
     checkpoints the borrow index grows linearly at that rate, computed on the fly, so debts
     grow every second and operations write no index. accrue() (anyone; the keeper calls it
     every block) writes the next checkpoint, in force from the next block, with the borrow
     rate of the utilisation at that moment: operations read only checkpoints written in
     earlier blocks. At a checkpoint the interest that built up since the last one (what the
     pool holds and is owed beyond what its suppliers and reserves can claim) is shared out:
     the reserve factor's part to the market's treasury balance (the reserves, which absorb
     bad debt first and which governance withdraws like a supply), the rest to the suppliers
     by raising the liquidity index. Suppliers are thus never credited more than borrowers
     owe, whatever happens between checkpoints. Until the next accrue, the borrow rate stays
     that of the last checkpoint; the supply rate shown is what it yields to suppliers.
     Hot-slot layout (parallel execution): an operation writes its account's own slots and
     the market's scaled totals (`total_scaled_supply`, `total_scaled_debt`), which are
     commutative counters (only added to and subtracted from, never branched on or logged by
     an operation; accrue and the views read them), as is the pool's USDT balance in the
     token; the parallel executor merges counters (sidechain.predeploys.COUNTER_SLOTS). Supply
     and borrow caps are checked against the totals of the checkpoint in force, so the
     operations of one block may together go past a cap; the next checkpoint stops them. The
     pool's native BTC balance is credited blindly by supplies and repayments; borrows and
     withdrawals of BTC read it.
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
    borrow_rate: uint256
    supply_rate: uint256
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

struct Checkpoint:
    indices: uint256  # liquidity index << 128 | borrow index (rays, at the stamp's time)
    rates: uint256  # yearly borrow rate << 128 | yearly supply rate (rays)
    stamp: uint256  # timestamp << 128 | effective block of the checkpoint before this one
    totals: uint256  # supplied << 128 | borrowed (base units, reserves included), for caps

struct Indices:
    liquidity_index: uint256  # ray
    borrow_index: uint256  # ray


MARKET_BTC: constant(uint8) = 0
MARKET_USDT: constant(uint8) = 1
MARKET_RSBTC: constant(uint8) = 2
MARKETS: constant(uint8) = 4
# Markets below LOANABLE lend and borrow; the others are restaking collateral.
LOANABLE: constant(uint8) = 2
LOW_128: constant(uint256) = 2**128 - 1
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
# @notice checkpoints[market][block]: the checkpoint in force from that block on.
checkpoints: public(HashMap[uint8, HashMap[uint256, Checkpoint]])
# @notice The effective block of each market's newest checkpoint (maybe the next block).
latest: public(HashMap[uint8, uint256])
# @notice Counters: scaled supply (reserves apart) and scaled debt of each loanable market.
total_scaled_supply: public(uint256[LOANABLE])
total_scaled_debt: public(uint256[LOANABLE])
# @notice Each loanable market's reserves, as a scaled supply balance of the protocol.
treasury_scaled: public(uint256[LOANABLE])
# @notice Debt ever written off, by market (base units).
bad_debt: public(HashMap[uint8, uint256])
scaled_supply: public(HashMap[uint8, HashMap[address, uint256]])
scaled_debt: public(HashMap[uint8, HashMap[address, uint256]])
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
            now accrues under the old settings; the new rates apply from the next block.
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
    self.markets[market] = config
    if market < LOANABLE:
        assert config.optimal_utilisation_bps > 0, "optimal utilisation out of range 1..9999"
        assert config.optimal_utilisation_bps < MAX_BPS, (
            "optimal utilisation out of range 1..9999"
        )
        if self.checkpoints[market][self.latest[market]].indices == 0:
            self.checkpoints[market][block.number] = Checkpoint(
                indices=self._pair(RAY, RAY),
                rates=self._pair(self._borrow_rate(market, 0), 0),
                stamp=self._pair(block.timestamp, block.number),
                totals=0,
            )
            self.latest[market] = block.number
        else:
            self._checkpoint(market, True)
    log MarketConfigured(market=market, config=config)


@external
def accrue(market: uint8):
    """
    @notice Write market's checkpoint for the next block: the indices now, the reserves
            credited, the rates of the utilisation now. Anyone may call; it acts once a block.
    """
    assert market < LOANABLE, "market is collateral only"
    self._listed(market)
    self._checkpoint(market, False)


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
    if market >= LOANABLE:
        assert msg.value == 0, "msg.value must be zero for a token market"
        vault: address = self._vault(market)
        assert extcall IERC20(vault).transferFrom(msg.sender, self._purse(msg.sender), amount), (
            "token transfer failed"
        )
        log Supplied(account=msg.sender, market=market, amount=amount, scaled=amount)
        return
    scaled: uint256 = amount * RAY // self._indices(market).liquidity_index
    assert scaled > 0, "supply mints no balance"
    cap: uint256 = self.markets[market].supply_cap
    if cap != 0:
        assert (self._checkpoint_totals(market) >> 128) + amount <= cap, "supply cap exceeded"
    self._pull(market, amount)
    self.scaled_supply[market][msg.sender] += scaled
    self.total_scaled_supply[market] += scaled
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
    now: Indices[LOANABLE] = self._indices_all()
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
        index: uint256 = now[market].liquidity_index
        balance: uint256 = self.scaled_supply[market][msg.sender]
        scaled: uint256 = balance
        if amount == max_value(uint256):
            paid = balance * index // RAY
        else:
            scaled = self._div_up(amount * RAY, index)
        assert paid > 0, "amount is zero"
        assert scaled <= balance, "withdrawal exceeds the supplied balance"
        self.scaled_supply[market][msg.sender] = balance - scaled
        self.total_scaled_supply[market] -= scaled
        self._push(market, msg.sender, paid)
        log Withdrawn(account=msg.sender, market=market, amount=paid, scaled=scaled)
    held: Position = self._position(msg.sender, now)
    assert held.weighted >= held.debt, "withdrawal would put the health factor below 1"
    return paid


@external
@nonreentrant
def borrow(market: uint8, amount: uint256):
    """@notice Borrow amount at the variable rate; refused beyond the loan-to-value limit."""
    self._listed(market)
    assert market < LOANABLE, "market is collateral only"
    assert amount > 0, "amount is zero"
    now: Indices[LOANABLE] = self._indices_all()
    cap: uint256 = self.markets[market].borrow_cap
    if cap != 0:
        assert (self._checkpoint_totals(market) & LOW_128) + amount <= cap, "borrow cap exceeded"
    scaled: uint256 = self._div_up(amount * RAY, now[market].borrow_index)
    self.scaled_debt[market][msg.sender] += scaled
    self.total_scaled_debt[market] += scaled
    held: Position = self._position(msg.sender, now)
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
    index: uint256 = self._indices(market).borrow_index
    owed: uint256 = self._owed(market, msg.sender, index)
    assert owed > 0, "no debt to repay"
    paid: uint256 = min(amount, owed)
    self._pay_in(market, amount, paid)
    scaled: uint256 = self._reduce_debt(market, msg.sender, paid, owed, index)
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
    now: Indices[LOANABLE] = self._indices_all()
    held: Position = self._position(borrower, now)
    assert held.weighted < held.debt, "position is healthy: health factor is not below 1"
    owed: uint256 = self._owed(debt_market, borrower, now[debt_market].borrow_index)
    assert owed > 0, "borrower has no debt in this market"
    available: uint256 = self._collateral_assets(collateral_market, borrower, now)
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
    self._reduce_debt(debt_market, borrower, repaid, owed, now[debt_market].borrow_index)
    self._seize(collateral_market, borrower, seized, seized == available, now)
    log Liquidated(
        liquidator=msg.sender,
        borrower=borrower,
        debt_market=debt_market,
        collateral_market=collateral_market,
        repaid=repaid,
        seized=seized,
    )
    if not self._has_collateral(borrower, now):
        self._write_off(borrower, now)
    return repaid


@external
@nonreentrant
def write_off(borrower: address):
    """
    @notice Write off the debt of a borrower with no collateral left (say, rsBTC slashed to
            nothing), which no liquidation can reach; anyone may call it.
    """
    now: Indices[LOANABLE] = self._indices_all()
    assert not self._has_collateral(borrower, now), "borrower still has collateral"
    has_debt: bool = False
    for market: uint8 in range(LOANABLE):
        if self.scaled_debt[market][borrower] != 0:
            has_debt = True
    assert has_debt, "borrower has no debt"
    self._write_off(borrower, now)


@external
@nonreentrant
def withdraw_reserves(market: uint8, amount: uint256, receiver: address):
    """@notice Pay amount of market's reserves to receiver; governance only."""
    assert msg.sender == self.governance, "only governance"
    assert market < LOANABLE, "market is collateral only"
    index: uint256 = self._indices(market).liquidity_index
    treasury: uint256 = self.treasury_scaled[market]
    assert amount <= treasury * index // RAY, "amount exceeds the reserves"
    assert receiver != empty(address), "receiver is the zero address"
    self.treasury_scaled[market] = treasury - min(self._div_up(amount * RAY, index), treasury)
    self._push(market, receiver, amount)
    log ReservesWithdrawn(market=market, amount=amount, receiver=receiver)


@external
@view
def health_factor(account: address) -> uint256:
    """@notice Weighted collateral over debt, in WAD (10**18 = 1); max_value without debt."""
    held: Position = self._position(account, self._indices_all())
    if held.debt == 0:
        return max_value(uint256)
    return held.weighted * WAD // held.debt


@external
@view
def position(account: address) -> Position:
    """@notice Weighted collateral and debt in USD * 10**-8, at this block's indices."""
    return self._position(account, self._indices_all())


@external
@view
def supply_balance(market: uint8, account: address) -> uint256:
    """@notice What account could withdraw from market now, ignoring health."""
    return self._collateral_assets(market, account, self._indices_all())


@external
@view
def debt_balance(market: uint8, account: address) -> uint256:
    """@notice What account owes in market now."""
    return self._owed(market, account, self._indices(market).borrow_index)


@external
@view
def indices(market: uint8) -> Indices:
    """@notice The market's liquidity and borrow indices at this block (rays)."""
    return self._indices(market)


@external
@view
def checkpoint_of(market: uint8) -> (uint256, uint256, uint256, uint256, uint256, uint256):
    """
    @notice The checkpoint in force at this block: (effective block, timestamp, liquidity
            index, borrow index at the timestamp, yearly borrow rate, yearly supply rate).
    """
    effective: uint256 = self._effective_block(market)
    cp: Checkpoint = self.checkpoints[market][effective]
    return (
        effective,
        cp.stamp >> 128,
        cp.indices >> 128,
        cp.indices & LOW_128,
        cp.rates >> 128,
        cp.rates & LOW_128,
    )


@external
@view
def rates(market: uint8) -> (uint256, uint256, uint256):
    """
    @notice (utilisation, yearly borrow rate, yearly supply rate), all in rays, as set by the
            checkpoint in force at this block.
    """
    assert market < LOANABLE, "market is collateral only"
    cp: Checkpoint = self.checkpoints[market][self._effective_block(market)]
    used: uint256 = interest_rate.utilisation(cp.totals & LOW_128, cp.totals >> 128)
    return used, cp.rates >> 128, cp.rates & LOW_128


@external
@view
def total_supplied(market: uint8) -> uint256:
    """@notice Suppliers' claims in market now, reserves apart (reads counters)."""
    return self.total_scaled_supply[market] * self._indices(market).liquidity_index // RAY


@external
@view
def total_borrowed(market: uint8) -> uint256:
    """@notice Debt in market now (reads counters)."""
    return self.total_scaled_debt[market] * self._indices(market).borrow_index // RAY


@external
@view
def reserves(market: uint8) -> uint256:
    """@notice The market's reserves now: the treasury's supply balance."""
    return self.treasury_scaled[market] * self._indices(market).liquidity_index // RAY


@external
@view
def deficit(market: uint8) -> uint256:
    """
    @notice What suppliers and reserves claim beyond what the pool holds and is owed (zero
            when covered): bad debt the reserves could not absorb.
    """
    now: Indices = self._indices(market)
    claims: uint256 = self._claims(market, now.liquidity_index)
    backing: uint256 = self._backing(market, now.borrow_index)
    if claims <= backing:
        return 0
    return claims - backing


@internal
def _checkpoint(market: uint8, force: bool):
    """
    @dev Write the checkpoint for the next block (once a block unless forced): the indices
         now, the treasury credited with the surplus, the rates of the utilisation now.
    """
    following: uint256 = block.number + 1
    if not force and self.checkpoints[market][following].indices != 0:
        return
    effective: uint256 = self._effective_block(market)
    now: Indices = self._indices(market)
    liquidity_index: uint256 = now.liquidity_index
    claims: uint256 = self._claims(market, liquidity_index)
    backing: uint256 = self._backing(market, now.borrow_index)
    scaled: uint256 = self.total_scaled_supply[market] + self.treasury_scaled[market]
    reserve_factor: uint256 = self.markets[market].reserve_factor_bps
    reserved: uint256 = 0
    if backing > claims:
        interest: uint256 = backing - claims
        reserved = interest * reserve_factor // MAX_BPS
        if scaled == 0:
            reserved = interest
        else:
            liquidity_index += (interest - reserved) * RAY // scaled
        credited: uint256 = reserved * RAY // liquidity_index
        self.treasury_scaled[market] += credited
        scaled += credited
    supplied: uint256 = scaled * liquidity_index // RAY
    debt: uint256 = self.total_scaled_debt[market] * now.borrow_index // RAY
    used: uint256 = interest_rate.utilisation(debt, supplied)
    borrow_rate: uint256 = self._borrow_rate(market, used)
    supply_rate: uint256 = borrow_rate * used // RAY * (MAX_BPS - reserve_factor) // MAX_BPS
    self.checkpoints[market][following] = Checkpoint(
        indices=self._pair(liquidity_index, now.borrow_index),
        rates=self._pair(borrow_rate, supply_rate),
        stamp=self._pair(block.timestamp, effective),
        totals=self._pair(supplied, debt),
    )
    if self.latest[market] != following:
        self.latest[market] = following
        older: uint256 = self.checkpoints[market][effective].stamp & LOW_128
        if older != effective:
            self.checkpoints[market][older] = empty(Checkpoint)
    log Accrued(
        market=market,
        liquidity_index=liquidity_index,
        borrow_index=now.borrow_index,
        borrow_rate=borrow_rate,
        supply_rate=supply_rate,
        reserves_added=reserved,
    )


@internal
@view
def _effective_block(market: uint8) -> uint256:
    """
    @dev The block of the checkpoint in force: this block's own (written in an earlier block),
         else the newest one before it (never one an accrue wrote in this block).
    """
    if self.checkpoints[market][block.number].indices != 0:
        return block.number
    effective: uint256 = self.latest[market]
    if effective > block.number:
        effective = self.checkpoints[market][effective].stamp & LOW_128
    return effective


@internal
@view
def _indices(market: uint8) -> Indices:
    """
    @dev The indices at this block's timestamp: the checkpoint's liquidity index (it moves only
         at checkpoints), its borrow index grown at its borrow rate.
    """
    cp: Checkpoint = self.checkpoints[market][self._effective_block(market)]
    elapsed: uint256 = block.timestamp - (cp.stamp >> 128)
    return Indices(
        liquidity_index=cp.indices >> 128,
        borrow_index=interest_rate.grow(cp.indices & LOW_128, cp.rates >> 128, elapsed),
    )


@internal
@view
def _indices_all() -> Indices[LOANABLE]:
    return [self._indices(MARKET_BTC), self._indices(MARKET_USDT)]


@internal
@view
def _checkpoint_totals(market: uint8) -> uint256:
    return self.checkpoints[market][self._effective_block(market)].totals


@internal
@view
def _claims(market: uint8, liquidity_index: uint256) -> uint256:
    """@dev What suppliers and reserves can claim, rounded up (reads counters)."""
    scaled: uint256 = self.total_scaled_supply[market] + self.treasury_scaled[market]
    return self._div_up(scaled * liquidity_index, RAY)


@internal
@view
def _backing(market: uint8, borrow_index: uint256) -> uint256:
    """@dev What the pool holds plus what it is owed, rounded down (reads counters)."""
    return self._cash(market) + self.total_scaled_debt[market] * borrow_index // RAY


@internal
@view
def _borrow_rate(market: uint8, used: uint256) -> uint256:
    return interest_rate.borrow_rate(
        used,
        self.markets[market].base_rate_bps,
        self.markets[market].slope1_bps,
        self.markets[market].slope2_bps,
        self.markets[market].optimal_utilisation_bps,
    )


@internal
@view
def _position(account: address, now: Indices[LOANABLE]) -> Position:
    held: Position = empty(Position)
    for market: uint8 in range(MARKETS):
        collateral: uint256 = self._collateral_assets(market, account, now)
        owed: uint256 = 0
        if market < LOANABLE:
            owed = self._owed(market, account, now[market].borrow_index)
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
def _collateral_assets(market: uint8, account: address, now: Indices[LOANABLE]) -> uint256:
    """@dev Supply balance (BTC, USDT) or the purse's restaked assets (rsBTC, rsUSDT)."""
    if market < LOANABLE:
        return self.scaled_supply[market][account] * now[market].liquidity_index // RAY
    purse: address = self.purses[account]
    if purse == empty(address):
        return 0
    return staticcall IVault(self._vault(market)).assets_of(purse)


@internal
@view
def _has_collateral(account: address, now: Indices[LOANABLE]) -> bool:
    for market: uint8 in range(MARKETS):
        if self._collateral_assets(market, account, now) != 0:
            return True
    return False


@internal
@view
def _owed(market: uint8, account: address, borrow_index: uint256) -> uint256:
    return self._div_up(self.scaled_debt[market][account] * borrow_index, RAY)


@internal
def _reduce_debt(
    market: uint8, account: address, paid: uint256, owed: uint256, borrow_index: uint256
) -> uint256:
    """@dev Scaled debt cancelled by paying `paid` of `owed`: all of it only for a full repay."""
    scaled: uint256 = self.scaled_debt[market][account]
    if paid < owed:
        scaled = paid * RAY // borrow_index
    self.scaled_debt[market][account] -= scaled
    self.total_scaled_debt[market] -= scaled
    return scaled


@internal
def _seize(
    market: uint8, borrower: address, assets: uint256, everything: bool, now: Indices[LOANABLE]
):
    """@dev Give the liquidator borrower's collateral worth `assets` (all of it if everything)."""
    if market < LOANABLE:
        scaled: uint256 = self.scaled_supply[market][borrower]
        if not everything:
            scaled = assets * RAY // now[market].liquidity_index
        self.scaled_supply[market][borrower] -= scaled
        self.scaled_supply[market][msg.sender] += scaled
        return
    vault: address = self._vault(market)
    purse: address = self.purses[borrower]
    shares: uint256 = staticcall IERC20(vault).balanceOf(purse)
    if not everything:
        operator: address = staticcall IVault(vault).delegated_to(purse)
        shares = staticcall IVault(vault).convert_to_shares(operator, assets)
    extcall IPurse(purse).pay(vault, msg.sender, shares)


@internal
def _write_off(account: address, now: Indices[LOANABLE]):
    """@dev account has debt and no collateral left: cancel the debt, cover it from reserves."""
    for market: uint8 in range(LOANABLE):
        owed: uint256 = self._owed(market, account, now[market].borrow_index)
        if owed == 0:
            continue
        self.total_scaled_debt[market] -= self.scaled_debt[market][account]
        self.scaled_debt[market][account] = 0
        index: uint256 = now[market].liquidity_index
        treasury: uint256 = self.treasury_scaled[market]
        covered: uint256 = min(owed, treasury * index // RAY)
        self.treasury_scaled[market] = treasury - min(self._div_up(covered * RAY, index), treasury)
        self.bad_debt[market] += owed
        log BadDebtWrittenOff(
            account=account, market=market, amount=owed, covered_by_reserves=covered
        )


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
    """
    @dev Pay amount out of the pool, refusing with a clear reason when it holds less. For USDT
         the token's own balance check decides: the pool never reads its USDT balance apart
         from changing it, so that slot stays a pure counter (read once, written once).
    """
    if market == MARKET_BTC:
        assert amount <= self.balance // WEI_PER_SAT, "not enough liquidity in the market"
        raw_call(receiver, b"", value=amount * WEI_PER_SAT)
        return
    success: bool = False
    response: Bytes[32] = b""
    success, response = raw_call(
        usdt,
        abi_encode(receiver, amount, method_id=method_id("transfer(address,uint256)")),
        max_outsize=32,
        revert_on_failure=False,
    )
    paid: bool = success and len(response) == 32 and convert(response, bool)
    assert paid, "not enough liquidity in the market"


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
def _pair(high: uint256, low: uint256) -> uint256:
    """@dev Two values of at most 128 bits in one word."""
    assert high <= LOW_128 and low <= LOW_128, "checkpoint value above 2**128 - 1"
    return high << 128 | low


@internal
@pure
def _div_up(numerator: uint256, denominator: uint256) -> uint256:
    return (numerator + denominator - 1) // denominator
