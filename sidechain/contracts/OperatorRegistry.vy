# pragma version 0.4.3
"""
@title Sluice restaking operator registry
@notice Federation members register as restaking operators with a metadata URL and a commission
        (basis points of the rewards paid to their delegators). A commission increase and a
        deregistration take effect `delay` sidechain blocks after they are asked for, so
        delegators can leave first; a commission decrease applies at once.
@dev Each operator writes only its own entry (the list of operators grows once per operator).
     The vaults read is_active, commission_of and index_of (an operator's place in the list,
     fixed for good at its first registration: the vaults keep per-operator totals in fixed
     slots by that index); the court reads operators() to snapshot stake.
"""

interface IBridge:
    def is_member(account: address) -> bool: view


event OperatorRegistered:
    operator: indexed(address)
    metadata_url: String[MAX_URL]
    commission_bps: uint256

event MetadataChanged:
    operator: indexed(address)
    metadata_url: String[MAX_URL]

event CommissionChangeScheduled:
    operator: indexed(address)
    commission_bps: uint256
    effective_at: uint256

event DeregistrationScheduled:
    operator: indexed(address)
    effective_at: uint256


struct Operator:
    metadata_url: String[MAX_URL]
    registered: bool
    commission_bps: uint256
    next_commission_bps: uint256
    next_commission_at: uint256  # 0: no change pending
    deregistered_at: uint256  # 0: not leaving


MAX_OPERATORS: constant(uint256) = 32  # the Bridge's MAX_MEMBERS: operators are members
MAX_URL: constant(uint256) = 256
MAX_BPS: constant(uint256) = 10_000

# @notice The Bridge whose federation members may register.
bridge: public(immutable(address))
# @notice Blocks from asking for a deregistration or a commission increase to it applying.
delay: public(immutable(uint256))
# @notice Each operator's entry, by operator address.
entries: public(HashMap[address, Operator])
# @notice Every address that ever registered, in order (an address appears once).
operator_list: public(DynArray[address, MAX_OPERATORS])
# @notice Position in operator_list plus one (zero: never registered).
position: HashMap[address, uint256]


@deploy
def __init__(bridge_address: address, delay_blocks: uint256):
    """
    @param bridge_address The Bridge; its is_member() decides who may register.
    @param delay_blocks Blocks before a deregistration or commission increase applies (> 0).
    """
    assert bridge_address != empty(address), "bridge is the zero address"
    assert delay_blocks > 0, "delay is zero"
    bridge = bridge_address
    delay = delay_blocks


@external
def register(metadata_url: String[MAX_URL], commission_bps: uint256):
    """@notice Register the caller, a federation member, as an operator (again after leaving)."""
    assert staticcall IBridge(bridge).is_member(msg.sender), "not a federation member"
    assert not self._is_active(msg.sender), "operator already registered"
    assert commission_bps <= MAX_BPS, "commission above 10000 basis points"
    if not self.entries[msg.sender].registered:
        self.operator_list.append(msg.sender)
        self.position[msg.sender] = len(self.operator_list)
    self.entries[msg.sender] = Operator(
        metadata_url=metadata_url,
        registered=True,
        commission_bps=commission_bps,
        next_commission_bps=0,
        next_commission_at=0,
        deregistered_at=0,
    )
    log OperatorRegistered(
        operator=msg.sender, metadata_url=metadata_url, commission_bps=commission_bps
    )


@external
def set_metadata_url(metadata_url: String[MAX_URL]):
    """@notice Replace the caller's metadata URL."""
    assert self._is_active(msg.sender), "not an operator"
    self.entries[msg.sender].metadata_url = metadata_url
    log MetadataChanged(operator=msg.sender, metadata_url=metadata_url)


@external
def set_commission(commission_bps: uint256):
    """@notice Lower the caller's commission now, or raise it after the delay."""
    assert self._is_active(msg.sender), "not an operator"
    assert commission_bps <= MAX_BPS, "commission above 10000 basis points"
    effective_at: uint256 = block.number
    if commission_bps <= self._commission_of(msg.sender):
        self.entries[msg.sender].commission_bps = commission_bps
        self.entries[msg.sender].next_commission_at = 0
    else:
        effective_at = block.number + delay
        self.entries[msg.sender].commission_bps = self._commission_of(msg.sender)
        self.entries[msg.sender].next_commission_bps = commission_bps
        self.entries[msg.sender].next_commission_at = effective_at
    log CommissionChangeScheduled(
        operator=msg.sender, commission_bps=commission_bps, effective_at=effective_at
    )


@external
def deregister():
    """@notice Leave the registry after the delay; stake stays slashable in the vaults."""
    assert self._is_active(msg.sender), "not an operator"
    assert self.entries[msg.sender].deregistered_at == 0, "deregistration already scheduled"
    effective_at: uint256 = block.number + delay
    self.entries[msg.sender].deregistered_at = effective_at
    log DeregistrationScheduled(operator=msg.sender, effective_at=effective_at)


@external
@view
def is_active(operator: address) -> bool:
    """@notice Registered and not yet past its deregistration: may receive new stake."""
    return self._is_active(operator)


@external
@view
def commission_of(operator: address) -> uint256:
    """@notice The commission in force at this block, in basis points."""
    return self._commission_of(operator)


@external
@view
def index_of(operator: address) -> uint256:
    """@notice The operator's index in operators(), 0..31; reverts if it never registered."""
    position: uint256 = self.position[operator]
    assert position != 0, "not an operator"
    return position - 1


@external
@view
def operators() -> DynArray[address, MAX_OPERATORS]:
    """@notice Every address that ever registered (check is_active for the current ones)."""
    return self.operator_list


@internal
@view
def _is_active(operator: address) -> bool:
    entry: Operator = self.entries[operator]
    if not entry.registered:
        return False
    return entry.deregistered_at == 0 or block.number < entry.deregistered_at


@internal
@view
def _commission_of(operator: address) -> uint256:
    entry: Operator = self.entries[operator]
    if entry.next_commission_at != 0 and block.number >= entry.next_commission_at:
        return entry.next_commission_bps
    return entry.commission_bps
