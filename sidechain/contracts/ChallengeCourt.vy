# pragma version 0.4.3
"""
@title Sluice challenge court: fraud proofs against the operators' claims
@notice The Bridge records every claim the federation makes, with the members who signed it:
        each deposit it mints (a deposit attestation), each release it marks (a release
        signature) and each state commitment it records. A claim is open for `claim_window`
        blocks; within it anyone may challenge it once, posting a bond of native BTC, the
        evidence, and the deficit the claim caused if it is false (for a deposit attestation
        that is the minted amount, fixed; for a release or a commitment the challenger's
        figure, which voters check with the evidence). Operators not party to the claim then
        vote for `voting_blocks` blocks, each weighted by its stake in both vaults as
        snapshotted when the challenge was posted. When the "false" votes hold at least two
        thirds of the eligible stake in each vault that has eligible stake (no price is needed
        to add BTC to USDT), the claim is void: each of its operators is slashed by slash_bps
        in both vaults, the challenger gets the bond back plus reward_bps of the slash (its BTC
        through withdraw()), and the rest of the slash joins the court's reserve, from which
        the deficit is covered at once: sent to the Bridge, which takes it out of circulation
        (Bridge.cover_deficit), so the solvency invariant holds again. A deficit the reserve
        cannot cover stays outstanding and is covered first from later slashes. Otherwise,
        once voting ends, the bond is paid as a BTC reward to the claim's operators' pools.
@dev A claim takes one storage slot, packed (see _pack), keyed by keccak256(kind, subject), so
     recording one (once per deposit, inside Bridge.deposit) writes only its own slot. Its
     operators are kept as a bitmap of their indexes in the Bridge's federation list. The
     challenger's BTC is credited and taken with withdraw(), so a challenger that refuses
     payment cannot block a slash. Voters judge the claim itself, not only the evidence.
"""

from ethereum.ercs import IERC20


interface IBridge:
    def federation(index: uint256) -> address: view
    def cover_deficit(asset: uint8, amount: uint256): payable

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
    asset: uint8
    amount: uint256
    closes_at: uint256

event ChallengeOpened:
    claim_id: indexed(bytes32)
    challenger: indexed(address)
    bond: uint256
    deficit: uint256
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

event DeficitCovered:
    asset: indexed(uint8)
    amount: uint256
    outstanding: uint256

event PayoutWithdrawn:
    receiver: indexed(address)
    amount: uint256

event ChallengeRejected:
    claim_id: indexed(bytes32)
    bond: uint256


struct Claim:
    kind: uint8
    status: uint8
    asset: uint8
    amount: uint256  # what the claim moved: a deposit's amount, a release's; zero otherwise
    signers: uint256  # bitmap of the claim's operators' indexes in Bridge.federation
    opened_at: uint256
    closes_at: uint256

struct Challenge:
    challenger: address
    bond: uint256  # wei
    deficit: uint256  # base units of the claim's asset
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

ASSET_BTC: constant(uint8) = 0
ASSET_USDT: constant(uint8) = 1
MAX_OPERATORS: constant(uint256) = 32
MAX_EVIDENCE: constant(uint256) = 8192
MAX_BPS: constant(uint256) = 10_000
WEI_PER_SAT: constant(uint256) = 10**10
MAX_AMOUNT: constant(uint256) = 2**128 - 1

bridge: public(immutable(address))
registry: public(immutable(address))
btc_vault: public(immutable(address))
usdt_vault: public(immutable(address))
# @notice Blocks a claim stays open to challenges (the ledger's fraud-proof window).
claim_window: public(immutable(uint256))
# @notice Blocks a challenge stays open to votes.
voting_blocks: public(immutable(uint256))
# @notice Smallest bond, in wei (a whole number of sats).
min_bond: public(immutable(uint256))
# @notice Fraction of each accused operator's pools slashed when a claim is void.
slash_bps: public(immutable(uint256))
# @notice Fraction of the slash paid to the challenger on top of the bond.
reward_bps: public(immutable(uint256))

claims: HashMap[bytes32, uint256]  # packed Claim, see _pack
challenges: public(HashMap[bytes32, Challenge])
# @notice Stake of each eligible voter, snapshotted when the claim was challenged.
voting_stake: public(HashMap[bytes32, HashMap[address, Stake]])
has_voted: public(HashMap[bytes32, HashMap[address, bool]])
# @notice Wei credited to challengers (bond plus reward), taken with withdraw().
payouts: public(HashMap[address, uint256])
# @notice Slashed assets not yet spent on a deficit, by asset (base units).
reserves: public(HashMap[uint8, uint256])
# @notice Deficits of void claims not covered yet, by asset (base units).
outstanding_deficit: public(HashMap[uint8, uint256])
# @notice Deficits sent to the Bridge so far, by asset (base units).
covered_deficit: public(HashMap[uint8, uint256])


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


@external
@payable
def __default__():
    """@notice Accept the BTC that the vault pays in when it slashes."""
    assert msg.sender == btc_vault, "only the btc vault pays the court"


@external
def record_claim(
    kind: uint8,
    subject: bytes32,
    operators: DynArray[address, MAX_OPERATORS],
    signers: uint256,
    asset: uint8,
    amount: uint256,
) -> bytes32:
    """
    @notice Open the challenge window of a claim; the Bridge only, once it checked the quorum.
    @param subject What was signed: the EIP-712 digest of the deposit, release or commitment.
    @param operators Who signed it, strictly ascending (for the event).
    @param signers The same as a bitmap of their indexes in Bridge.federation.
    @param amount What the claim moved, in base units of asset (zero for a commitment).
    @return The claim id, keccak256(abi_encode(kind, subject)).
    """
    assert msg.sender == bridge, "only bridge"
    assert kind >= KIND_DEPOSIT_ATTESTATION and kind <= KIND_STATE_COMMITMENT, "unknown claim kind"
    assert signers != 0 and signers < 2**MAX_OPERATORS, "claim has no operators"
    assert asset <= ASSET_USDT, "unknown asset"
    assert amount <= MAX_AMOUNT, "amount above 2**128 - 1"
    claim_id: bytes32 = self._claim_id(kind, subject)
    assert self.claims[claim_id] == 0, "claim already recorded"
    claim: Claim = Claim(
        kind=kind,
        status=STATUS_OPEN,
        asset=asset,
        amount=amount,
        signers=signers,
        opened_at=block.number,
        closes_at=block.number + claim_window,
    )
    self.claims[claim_id] = self._pack(claim)
    log ClaimRecorded(
        claim_id=claim_id,
        kind=kind,
        subject=subject,
        operators=operators,
        asset=asset,
        amount=amount,
        closes_at=claim.closes_at,
    )
    return claim_id


@external
@payable
def challenge(claim_id: bytes32, evidence: Bytes[MAX_EVIDENCE], deficit: uint256):
    """
    @notice Challenge a claim within its window, bonding msg.value; snapshots the voters' stake.
    @param evidence Kept in the ChallengeOpened event; the court stores only its hash.
    @param deficit What the claim cost the bridge if false, in base units of its asset: for a
           deposit attestation exactly the amount minted.
    """
    claim: Claim = self._claim(claim_id)
    assert claim.status != 0, "unknown claim"
    assert claim.status == STATUS_OPEN, "claim already challenged"
    assert block.number < claim.closes_at, "challenge window closed"
    assert msg.value >= min_bond, "bond below minimum"
    assert msg.value % WEI_PER_SAT == 0, "bond must be a whole number of sats"
    assert len(evidence) > 0, "evidence is empty"
    assert deficit <= MAX_AMOUNT, "deficit above 2**128 - 1"
    if claim.kind == KIND_DEPOSIT_ATTESTATION:
        assert deficit == claim.amount, "deficit must equal the attested deposit's amount"
    accused: DynArray[address, MAX_OPERATORS] = self._operators(claim.signers)
    eligible: Stake = empty(Stake)
    for operator: address in staticcall IRegistry(registry).operators():
        if operator in accused or not staticcall IRegistry(registry).is_active(operator):
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
    claim.status = STATUS_CHALLENGED
    self.claims[claim_id] = self._pack(claim)
    self.challenges[claim_id] = Challenge(
        challenger=msg.sender,
        bond=msg.value,
        deficit=deficit,
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
        deficit=deficit,
        deadline=deadline,
        evidence=evidence,
    )


@external
def vote(claim_id: bytes32, claim_is_false: bool):
    """@notice Vote once, by the deadline, with the caller's stake snapshotted at the challenge."""
    claim: Claim = self._claim(claim_id)
    assert claim.status == STATUS_CHALLENGED, "claim not under challenge"
    assert block.number <= self.challenges[claim_id].deadline, "voting closed"
    assert not self.has_voted[claim_id][msg.sender], "operator already voted"
    stake: Stake = self.voting_stake[claim_id][msg.sender]
    if stake.btc == 0 and stake.usdt == 0:
        assert msg.sender not in self._operators(claim.signers), "operator made the claim"
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
    claim: Claim = self._claim(claim_id)
    assert claim.status != STATUS_VOID and claim.status != STATUS_STANDS, (
        "challenge already resolved"
    )
    assert claim.status == STATUS_CHALLENGED, "claim not under challenge"
    ch: Challenge = self.challenges[claim_id]
    accused: DynArray[address, MAX_OPERATORS] = self._operators(claim.signers)
    if self._is_false(ch):
        claim.status = STATUS_VOID
        self.claims[claim_id] = self._pack(claim)
        self._punish(claim_id, claim, ch, accused)
    else:
        assert block.number > ch.deadline, "voting still open"
        claim.status = STATUS_STANDS
        self.claims[claim_id] = self._pack(claim)
        self._forfeit_bond(claim_id, ch.bond, accused)


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
def claim_of(claim_id: bytes32) -> Claim:
    """@notice The claim recorded under claim_id (all zero if none)."""
    return self._claim(claim_id)


@external
@view
def claim_operators(claim_id: bytes32) -> DynArray[address, MAX_OPERATORS]:
    """@notice The operators who made the claim, in the Bridge's federation order."""
    return self._operators(self._claim(claim_id).signers)


@external
@view
def is_final(claim_id: bytes32) -> bool:
    """@notice The window has closed and no challenge is pending or upheld: the claim stands."""
    claim: Claim = self._claim(claim_id)
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
def _punish(
    claim_id: bytes32, claim: Claim, ch: Challenge, accused: DynArray[address, MAX_OPERATORS]
):
    """@dev Slash every accused operator, pay the challenger, keep the rest, cover the deficit."""
    btc_slashed: uint256 = 0
    usdt_slashed: uint256 = 0
    for operator: address in accused:
        btc_slashed += extcall IVault(btc_vault).slash(operator, slash_bps)
        usdt_slashed += extcall IVault(usdt_vault).slash(operator, slash_bps)
    btc_reward: uint256 = btc_slashed * reward_bps // MAX_BPS
    usdt_reward: uint256 = usdt_slashed * reward_bps // MAX_BPS
    self.payouts[ch.challenger] += ch.bond + btc_reward * WEI_PER_SAT
    if usdt_reward > 0:
        assert extcall IERC20(self._usdt()).transfer(ch.challenger, usdt_reward), (
            "token transfer failed"
        )
    self.reserves[ASSET_BTC] += btc_slashed - btc_reward
    self.reserves[ASSET_USDT] += usdt_slashed - usdt_reward
    self.outstanding_deficit[claim.asset] += ch.deficit
    log ClaimVoided(
        claim_id=claim_id,
        btc_slashed=btc_slashed,
        usdt_slashed=usdt_slashed,
        btc_reward=btc_reward,
        usdt_reward=usdt_reward,
    )
    self._cover(ASSET_BTC)
    self._cover(ASSET_USDT)


@internal
def _cover(asset: uint8):
    """@dev Send the Bridge what the reserve can cover of the outstanding deficit."""
    amount: uint256 = min(self.outstanding_deficit[asset], self.reserves[asset])
    if amount == 0:
        return
    self.reserves[asset] -= amount
    self.outstanding_deficit[asset] -= amount
    self.covered_deficit[asset] += amount
    if asset == ASSET_BTC:
        extcall IBridge(bridge).cover_deficit(asset, amount, value=amount * WEI_PER_SAT)
    else:
        assert extcall IERC20(self._usdt()).transfer(bridge, amount), "token transfer failed"
        extcall IBridge(bridge).cover_deficit(asset, amount)
    log DeficitCovered(asset=asset, amount=amount, outstanding=self.outstanding_deficit[asset])


@internal
def _forfeit_bond(claim_id: bytes32, bond: uint256, accused: DynArray[address, MAX_OPERATORS]):
    """@dev Split the bond (in sats) over the accused operators with BTC stake, as rewards;
         with none, it joins the reserve."""
    paid: DynArray[address, MAX_OPERATORS] = []
    for operator: address in accused:
        if staticcall IVault(btc_vault).stake_of(operator) > 0:
            paid.append(operator)
    sats: uint256 = bond // WEI_PER_SAT
    if len(paid) == 0:
        self.reserves[ASSET_BTC] += sats
        self._cover(ASSET_BTC)
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
@view
def _usdt() -> address:
    return staticcall IVault(usdt_vault).asset()


@internal
@view
def _operators(signers: uint256) -> DynArray[address, MAX_OPERATORS]:
    """@dev The federation members whose bits are set, in federation order."""
    found: DynArray[address, MAX_OPERATORS] = []
    for i: uint256 in range(MAX_OPERATORS):
        if signers >> i == 0:
            break
        if (signers >> i) & 1 == 1:
            found.append(staticcall IBridge(bridge).federation(i))
    return found


@internal
@view
def _claim(claim_id: bytes32) -> Claim:
    packed: uint256 = self.claims[claim_id]
    opened_at: uint256 = packed & (2**64 - 1)
    return Claim(
        kind=convert((packed >> 96) & 255, uint8),
        status=convert((packed >> 104) & 255, uint8),
        asset=convert((packed >> 112) & 255, uint8),
        amount=packed >> 128,
        signers=(packed >> 64) & (2**32 - 1),
        opened_at=opened_at,
        closes_at=opened_at + claim_window if packed != 0 else 0,
    )


@internal
@pure
def _pack(claim: Claim) -> uint256:
    """
    @dev One slot: opened_at (bits 0..63), signers (64..95), kind (96..103), status
         (104..111), asset (112..119), amount (128..255). closes_at is opened_at + window.
    """
    return (
        claim.opened_at
        | claim.signers << 64
        | convert(claim.kind, uint256) << 96
        | convert(claim.status, uint256) << 104
        | convert(claim.asset, uint256) << 112
        | claim.amount << 128
    )


@internal
@pure
def _claim_id(kind: uint8, subject: bytes32) -> bytes32:
    return keccak256(abi_encode(kind, subject))
