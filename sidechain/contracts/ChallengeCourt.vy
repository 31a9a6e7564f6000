# pragma version 0.4.3
"""
@title Sluice challenge court: fraud proofs against the operators' claims
@notice The system or a federation member records each claim (a deposit attestation, a release
        signature, a state commitment) with the operators who made it; it is open for
        `claim_window` blocks. Within the window anyone may challenge it once, posting a bond
        of native BTC and the evidence. Operators not party to the claim then vote for
        `voting_blocks` blocks, each weighted by its stake in both vaults as snapshotted when
        the challenge was posted (so stake moved in later cannot sway the vote). When the
        "false" votes hold at least two thirds of the eligible stake in each vault that has
        eligible stake (no price is needed to add BTC to USDT), the claim is void: each of its
        operators is slashed by slash_bps in both vaults, the challenger gets the bond back
        plus reward_bps of what was slashed (its BTC through withdraw()), and the rest of the
        slash goes to the deficit receiver, which covers the bridge's deficit. Otherwise, once
        voting ends, the bond is paid as a BTC vault reward to the claim's operators' pools.
@dev The deficit receiver must accept native BTC and USDT: an insurance or treasury address
     that covers the deficit by burning (Bridge.withdraw to the bridge's own Bitcoin address);
     the Bridge itself has no payable fallback. The challenger's BTC is credited and taken
     with withdraw(), so a challenger that refuses payment cannot block a slash. A claim takes
     one challenge: voters judge the claim itself, not only the evidence posted with it.
     Claims are keyed by keccak256(kind, subject), so recording one (once per deposit, by the
     node) writes only its own slots.
"""

from ethereum.ercs import IERC20


interface IBridge:
    def is_member(account: address) -> bool: view

interface IRegistry:
    def is_active(operator: address) -> bool: view
    def operators() -> DynArray[address, MAX_OPERATORS]: view

interface IVault:
    def asset() -> address: view
    def unbonding_blocks() -> uint256: view
    def stake_of(operator: address) -> uint256: view
    def slash(operator: address, fraction_bps: uint256) -> uint256: nonpayable
    def reward(operator: address, amount: uint256): payable


event ClaimRecorded:
    claim_id: indexed(bytes32)
    kind: uint8
    subject: bytes32
    operators: DynArray[address, MAX_OPERATORS]
    closes_at: uint256

event ChallengeOpened:
    claim_id: indexed(bytes32)
    challenger: indexed(address)
    bond: uint256
    deadline: uint256
    evidence: Bytes[MAX_EVIDENCE]

event Voted:
    claim_id: indexed(bytes32)
    operator: indexed(address)
    claim_is_false: bool
    btc_stake: uint256
    usdt_stake: uint256

event ClaimVoided:
    claim_id: indexed(bytes32)
    btc_slashed: uint256
    usdt_slashed: uint256
    btc_reward: uint256
    usdt_reward: uint256

event PayoutWithdrawn:
    receiver: indexed(address)
    amount: uint256

event ChallengeRejected:
    claim_id: indexed(bytes32)
    bond: uint256


struct Claim:
    kind: uint8
    subject: bytes32
    operators: DynArray[address, MAX_OPERATORS]
    opened_at: uint256
    closes_at: uint256
    status: uint8

struct Challenge:
    challenger: address
    bond: uint256  # wei
    evidence_hash: bytes32
    deadline: uint256  # last block at which votes count
    eligible_btc: uint256
    eligible_usdt: uint256
    false_btc: uint256
    false_usdt: uint256

struct Stake:
    btc: uint256
    usdt: uint256


KIND_DEPOSIT_ATTESTATION: constant(uint8) = 1
KIND_RELEASE_SIGNATURE: constant(uint8) = 2
KIND_STATE_COMMITMENT: constant(uint8) = 3

STATUS_OPEN: constant(uint8) = 1
STATUS_CHALLENGED: constant(uint8) = 2
STATUS_VOID: constant(uint8) = 3  # challenge upheld: the claim was false
STATUS_STANDS: constant(uint8) = 4  # challenge rejected

SYSTEM_ADDRESS: constant(address) = 0xffffFFFfFFffffffffffffffFfFFFfffFFFfFFfE
MAX_OPERATORS: constant(uint256) = 32
MAX_EVIDENCE: constant(uint256) = 8192
MAX_BPS: constant(uint256) = 10_000
WEI_PER_SAT: constant(uint256) = 10**10

bridge: public(immutable(address))
registry: public(immutable(address))
btc_vault: public(immutable(address))
usdt_vault: public(immutable(address))
# @notice Blocks a claim stays open to challenges.
claim_window: public(immutable(uint256))
# @notice Blocks a challenge stays open to votes.
voting_blocks: public(immutable(uint256))
# @notice Smallest bond, in wei (a whole number of sats).
min_bond: public(immutable(uint256))
# @notice Fraction of each accused operator's pools slashed when a claim is void.
slash_bps: public(immutable(uint256))
# @notice Fraction of the slash paid to the challenger on top of the bond.
reward_bps: public(immutable(uint256))
# @notice Receives the slash minus the challenger's reward, to cover the bridge's deficit.
deficit_receiver: public(immutable(address))

claims: public(HashMap[bytes32, Claim])
challenges: public(HashMap[bytes32, Challenge])
# @notice Stake of each eligible voter, snapshotted when the claim was challenged.
voting_stake: public(HashMap[bytes32, HashMap[address, Stake]])
has_voted: public(HashMap[bytes32, HashMap[address, bool]])
# @notice Wei credited to challengers (bond plus reward), taken with withdraw().
payouts: public(HashMap[address, uint256])


@deploy
def __init__(
    bridge_address: address,
    registry_address: address,
    btc_vault_address: address,
    usdt_vault_address: address,
    window_blocks: uint256,
    vote_blocks: uint256,
    bond_minimum: uint256,
    slash_fraction_bps: uint256,
    reward_fraction_bps: uint256,
    deficit_receiver_address: address,
):
    """
    @param window_blocks Blocks a claim is open to challenges (> 0).
    @param vote_blocks Blocks a challenge is open to votes (> 0).
    @param bond_minimum Smallest challenge bond in wei, a multiple of 10**10 (> 0).
    @param slash_fraction_bps Basis points of the accused operators' stake slashed (1..10000).
    @param reward_fraction_bps Basis points of the slash paid to the challenger (0..10000).
    @dev The vaults are deployed first: their unbonding must outlast window plus voting.
    """
    assert bridge_address != empty(address), "bridge is the zero address"
    assert registry_address != empty(address), "registry is the zero address"
    assert btc_vault_address != empty(address), "btc vault is the zero address"
    assert usdt_vault_address != empty(address), "usdt vault is the zero address"
    assert deficit_receiver_address != empty(address), "deficit receiver is the zero address"
    assert window_blocks > 0, "claim window is zero"
    assert vote_blocks > 0, "voting period is zero"
    assert bond_minimum > 0 and bond_minimum % WEI_PER_SAT == 0, (
        "minimum bond must be a positive multiple of 10**10 wei"
    )
    assert slash_fraction_bps > 0 and slash_fraction_bps <= MAX_BPS, "slash out of range 1..10000"
    assert reward_fraction_bps <= MAX_BPS, "reward above 10000 basis points"
    # Stake queued when a claim is made must still be there when its challenge resolves.
    for vault: address in [btc_vault_address, usdt_vault_address]:
        unbonding: uint256 = staticcall IVault(vault).unbonding_blocks()
        assert unbonding > window_blocks + vote_blocks, (
            "vault unbonding not longer than claim window plus voting period"
        )
    bridge = bridge_address
    registry = registry_address
    btc_vault = btc_vault_address
    usdt_vault = usdt_vault_address
    claim_window = window_blocks
    voting_blocks = vote_blocks
    min_bond = bond_minimum
    slash_bps = slash_fraction_bps
    reward_bps = reward_fraction_bps
    deficit_receiver = deficit_receiver_address


@external
@payable
def __default__():
    """@notice Accept the BTC that the vault pays in when it slashes."""
    assert msg.sender == btc_vault, "only the btc vault pays the court"


@external
def record_claim(
    kind: uint8, subject: bytes32, operators: DynArray[address, MAX_OPERATORS]
) -> bytes32:
    """
    @notice Open the challenge window of a claim; the system or a federation member only.
    @param subject What was claimed: the signed digest or the committed state root.
    @param operators Who made the claim, strictly ascending.
    @return The claim id, keccak256(abi_encode(kind, subject)).
    """
    is_member: bool = staticcall IBridge(bridge).is_member(msg.sender)
    assert msg.sender == SYSTEM_ADDRESS or is_member, "only system or federation member"
    assert kind >= KIND_DEPOSIT_ATTESTATION and kind <= KIND_STATE_COMMITMENT, "unknown claim kind"
    assert len(operators) > 0, "claim has no operators"
    previous: address = empty(address)
    for operator: address in operators:
        is_ascending: bool = convert(operator, uint160) > convert(previous, uint160)
        assert is_ascending, "operators not strictly ascending"
        previous = operator
    claim_id: bytes32 = self._claim_id(kind, subject)
    assert self.claims[claim_id].status == 0, "claim already recorded"
    closes_at: uint256 = block.number + claim_window
    self.claims[claim_id] = Claim(
        kind=kind,
        subject=subject,
        operators=operators,
        opened_at=block.number,
        closes_at=closes_at,
        status=STATUS_OPEN,
    )
    log ClaimRecorded(
        claim_id=claim_id, kind=kind, subject=subject, operators=operators, closes_at=closes_at
    )
    return claim_id


@external
@payable
def challenge(claim_id: bytes32, evidence: Bytes[MAX_EVIDENCE]):
    """
    @notice Challenge a claim within its window, bonding msg.value; snapshots the voters' stake.
    @param evidence Kept in the ChallengeOpened event; the court stores only its hash.
    """
    claim: Claim = self.claims[claim_id]
    assert claim.status != 0, "unknown claim"
    assert claim.status == STATUS_OPEN, "claim already challenged"
    assert block.number < claim.closes_at, "challenge window closed"
    assert msg.value >= min_bond, "bond below minimum"
    assert msg.value % WEI_PER_SAT == 0, "bond must be a whole number of sats"
    assert len(evidence) > 0, "evidence is empty"
    eligible: Stake = empty(Stake)
    for operator: address in staticcall IRegistry(registry).operators():
        if operator in claim.operators or not staticcall IRegistry(registry).is_active(operator):
            continue
        stake: Stake = Stake(
            btc=staticcall IVault(btc_vault).stake_of(operator),
            usdt=staticcall IVault(usdt_vault).stake_of(operator),
        )
        if stake.btc == 0 and stake.usdt == 0:
            continue
        self.voting_stake[claim_id][operator] = stake
        eligible.btc += stake.btc
        eligible.usdt += stake.usdt
    deadline: uint256 = block.number + voting_blocks
    self.claims[claim_id].status = STATUS_CHALLENGED
    self.challenges[claim_id] = Challenge(
        challenger=msg.sender,
        bond=msg.value,
        evidence_hash=keccak256(evidence),
        deadline=deadline,
        eligible_btc=eligible.btc,
        eligible_usdt=eligible.usdt,
        false_btc=0,
        false_usdt=0,
    )
    log ChallengeOpened(
        claim_id=claim_id,
        challenger=msg.sender,
        bond=msg.value,
        deadline=deadline,
        evidence=evidence,
    )


@external
def vote(claim_id: bytes32, claim_is_false: bool):
    """@notice Vote once, by the deadline, with the caller's stake snapshotted at the challenge."""
    assert self.claims[claim_id].status == STATUS_CHALLENGED, "claim not under challenge"
    assert block.number <= self.challenges[claim_id].deadline, "voting closed"
    assert not self.has_voted[claim_id][msg.sender], "operator already voted"
    stake: Stake = self.voting_stake[claim_id][msg.sender]
    if stake.btc == 0 and stake.usdt == 0:
        assert msg.sender not in self.claims[claim_id].operators, "operator made the claim"
        assert staticcall IRegistry(registry).is_active(msg.sender), "not an operator"
        raise "operator had no stake when challenged"
    self.has_voted[claim_id][msg.sender] = True
    if claim_is_false:
        self.challenges[claim_id].false_btc += stake.btc
        self.challenges[claim_id].false_usdt += stake.usdt
    log Voted(
        claim_id=claim_id,
        operator=msg.sender,
        claim_is_false=claim_is_false,
        btc_stake=stake.btc,
        usdt_stake=stake.usdt,
    )


@external
@nonreentrant
def resolve(claim_id: bytes32):
    """
    @notice Void the claim once two thirds vote it false (at any time), or reject the challenge
            once voting has ended without them. Anyone may call; once.
    """
    status: uint8 = self.claims[claim_id].status
    assert status != STATUS_VOID and status != STATUS_STANDS, "challenge already resolved"
    assert status == STATUS_CHALLENGED, "claim not under challenge"
    ch: Challenge = self.challenges[claim_id]
    if self._is_false(ch):
        self.claims[claim_id].status = STATUS_VOID
        self._punish(claim_id, ch)
    else:
        assert block.number > ch.deadline, "voting still open"
        self.claims[claim_id].status = STATUS_STANDS
        self._forfeit_bond(claim_id, ch.bond)


@external
@nonreentrant
def withdraw() -> uint256:
    """@notice Pay the caller the BTC credited to it by upheld challenges, in wei."""
    amount: uint256 = self.payouts[msg.sender]
    assert amount > 0, "nothing to withdraw"
    self.payouts[msg.sender] = 0
    raw_call(msg.sender, b"", value=amount)
    log PayoutWithdrawn(receiver=msg.sender, amount=amount)
    return amount


@external
@view
def claim_id_of(kind: uint8, subject: bytes32) -> bytes32:
    """@notice The id under which a claim of kind about subject is recorded."""
    return self._claim_id(kind, subject)


@external
@view
def is_final(claim_id: bytes32) -> bool:
    """@notice The window has closed and no challenge is pending or upheld: the claim stands."""
    claim: Claim = self.claims[claim_id]
    standing: bool = claim.status == STATUS_OPEN or claim.status == STATUS_STANDS
    return standing and block.number >= claim.closes_at


@internal
@view
def _is_false(ch: Challenge) -> bool:
    """@dev Two thirds of the eligible stake of each vault that has some; never with none."""
    if ch.eligible_btc == 0 and ch.eligible_usdt == 0:
        return False
    return ch.false_btc * 3 >= ch.eligible_btc * 2 and ch.false_usdt * 3 >= ch.eligible_usdt * 2


@internal
def _punish(claim_id: bytes32, ch: Challenge):
    """@dev Slash every accused operator, pay the challenger, send the rest to the deficit."""
    btc_slashed: uint256 = 0
    usdt_slashed: uint256 = 0
    for operator: address in self.claims[claim_id].operators:
        btc_slashed += extcall IVault(btc_vault).slash(operator, slash_bps)
        usdt_slashed += extcall IVault(usdt_vault).slash(operator, slash_bps)
    btc_reward: uint256 = btc_slashed * reward_bps // MAX_BPS
    usdt_reward: uint256 = usdt_slashed * reward_bps // MAX_BPS
    usdt: address = staticcall IVault(usdt_vault).asset()
    self.payouts[ch.challenger] += ch.bond + btc_reward * WEI_PER_SAT
    self._send_btc(deficit_receiver, (btc_slashed - btc_reward) * WEI_PER_SAT)
    self._send_token(usdt, ch.challenger, usdt_reward)
    self._send_token(usdt, deficit_receiver, usdt_slashed - usdt_reward)
    log ClaimVoided(
        claim_id=claim_id,
        btc_slashed=btc_slashed,
        usdt_slashed=usdt_slashed,
        btc_reward=btc_reward,
        usdt_reward=usdt_reward,
    )


@internal
def _forfeit_bond(claim_id: bytes32, bond: uint256):
    """@dev Split the bond (in sats) over the accused operators with BTC stake, as rewards."""
    paid: DynArray[address, MAX_OPERATORS] = []
    for operator: address in self.claims[claim_id].operators:
        if staticcall IVault(btc_vault).stake_of(operator) > 0:
            paid.append(operator)
    sats: uint256 = bond // WEI_PER_SAT
    if len(paid) == 0:
        self._send_btc(deficit_receiver, bond)
    else:
        each: uint256 = sats // len(paid)
        for operator: address in paid:
            amount: uint256 = each
            if operator == paid[0]:
                amount += sats - each * len(paid)
            if amount > 0:
                extcall IVault(btc_vault).reward(operator, amount, value=amount * WEI_PER_SAT)
    log ChallengeRejected(claim_id=claim_id, bond=bond)


@internal
def _send_btc(receiver: address, amount: uint256):
    if amount > 0:
        raw_call(receiver, b"", value=amount)


@internal
def _send_token(token: address, receiver: address, amount: uint256):
    if amount > 0:
        assert extcall IERC20(token).transfer(receiver, amount), "token transfer failed"


@internal
@pure
def _claim_id(kind: uint8, subject: bytes32) -> bytes32:
    return keccak256(abi_encode(kind, subject))
