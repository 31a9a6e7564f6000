# pragma version 0.4.3
"""
@title Sluice Bridge
@notice Mints BTC and USDT for Bitcoin deposits attested by m federation members, burns them
        for withdrawals to Bitcoin (less a fee), and records each withdrawal's release or
        refund and the federation's state commitments. Every claim the federation makes here
        (a deposit it attests, a release it marks, a state root it commits) is recorded in the
        ChallengeCourt in the same call, with the members who signed it, so anyone can
        challenge it within the court's window. Withdrawal fees, once the withdrawal is
        released, go to the restaking vaults as rewards (distribute()); the deficit a void
        claim caused comes back from the slash through cover_deficit() and leaves circulation.
@dev BTC is the sidechain's native coin and a contract cannot create it: deposit() only checks
     and records a BTC deposit, and the node credits amount * 10**10 wei to the recipient when
     the call succeeds. Withdrawn BTC stays locked here, out of circulation (that is the burn),
     as does BTC sent by cover_deficit; the fees held here are not locked: locked_sats() is
     the balance less them. USDT is burned on withdrawal (its fee kept here as tokens) and on
     cover_deficit.
     Hot-slot rule: deposit() writes only the slot of its own deposit id and its own claim
     slot in the court (plus, for USDT, the recipient's balance and supply shard), never a
     shared counter, so independent deposits run in parallel. Withdrawals share a counter
     (their ids) and so do the fee totals they write. Signatures are EIP-712, domain
     ("Sluice Bridge", "1", chain id, this).
"""

import eip712


interface IUSDT:
    def mint(receiver: address, amount: uint256): nonpayable
    def burn(owner: address, amount: uint256): nonpayable
    def transfer(receiver: address, amount: uint256) -> bool: nonpayable
    def approve(spender: address, amount: uint256) -> bool: nonpayable

interface ICourt:
    def record_claim(
        kind: uint8,
        subject: bytes32,
        operators: DynArray[address, MAX_MEMBERS],
        signers: uint256,
        asset: uint8,
        amount: uint256,
    ) -> bytes32: nonpayable

interface IVault:
    def reward_all(amount: uint256): payable
    def active_stake() -> uint256: view


event Deposited:
    recipient: indexed(address)
    txid: indexed(bytes32)
    vout: uint32
    asset: uint8
    amount: uint256

event WithdrawalRequested:
    withdrawal_id: indexed(uint256)
    sender: indexed(address)
    asset: uint8
    amount: uint256
    bitcoin_address: String[MAX_BITCOIN_ADDRESS]

event WithdrawalReleased:
    withdrawal_id: indexed(uint256)
    btc_txid: bytes32

event WithdrawalRefunded:
    withdrawal_id: indexed(uint256)
    sender: indexed(address)
    asset: uint8
    amount: uint256

event WithdrawalFeeCharged:
    withdrawal_id: indexed(uint256)
    asset: uint8
    fee: uint256

event CommitmentRecorded:
    height: indexed(uint64)
    state_root: bytes32

event FeesDistributed:
    asset: indexed(uint8)
    amount: uint256

event DeficitCovered:
    asset: indexed(uint8)
    amount: uint256


struct Withdrawal:
    sender: address
    asset: uint8
    amount: uint256  # what Bitcoin pays: the amount asked less the fee
    status: uint8
    btc_txid: bytes32
    fee: uint256

struct Quorum:
    signers: DynArray[address, MAX_MEMBERS]  # strictly ascending
    bitmap: uint256  # their indexes in the federation list


ASSET_BTC: constant(uint8) = 0
ASSET_USDT: constant(uint8) = 1
WEI_PER_SAT: constant(uint256) = 10**10
SYSTEM_ADDRESS: constant(address) = 0xffffFFFfFFffffffffffffffFfFFFfffFFFfFFfE
MAX_MEMBERS: constant(uint256) = 32
MIN_BITCOIN_ADDRESS: constant(uint256) = 14
MAX_BITCOIN_ADDRESS: constant(uint256) = 90
MAX_BPS: constant(uint256) = 10_000

KIND_DEPOSIT_ATTESTATION: constant(uint8) = 1
KIND_RELEASE_SIGNATURE: constant(uint8) = 2
KIND_STATE_COMMITMENT: constant(uint8) = 3

STATUS_REQUESTED: constant(uint8) = 1
STATUS_RELEASED: constant(uint8) = 2
STATUS_REFUNDED: constant(uint8) = 3

NAME: constant(String[13]) = "Sluice Bridge"
VERSION: constant(String[1]) = "1"
DEPOSIT_TYPEHASH: constant(bytes32) = keccak256(
    "Deposit(bytes32 txid,uint32 vout,uint8 asset,uint256 amount,address recipient)"
)
REFUND_TYPEHASH: constant(bytes32) = keccak256("Refund(uint256 withdrawalId)")
RELEASE_TYPEHASH: constant(bytes32) = keccak256("Release(uint256 withdrawalId,bytes32 btcTxid)")
COMMITMENT_TYPEHASH: constant(bytes32) = keccak256("Commitment(uint64 height,bytes32 stateRoot)")

# @notice Signatures needed for a deposit, a refund, a release or a commitment.
threshold: public(immutable(uint256))
# @notice The USDT token this bridge mints and burns.
usdt: public(immutable(address))
# @notice The ChallengeCourt where every federation claim is recorded.
court: public(immutable(address))
# @notice The rsBTC and rsUSDT restaking vaults that receive the fees.
btc_vault: public(immutable(address))
usdt_vault: public(immutable(address))
# @notice Fee on each withdrawal, in basis points of the amount asked (rounded up).
withdrawal_fee_bps: public(immutable(uint256))
# @notice Federation members (EVM addresses), in the order given at deployment.
federation: public(DynArray[address, MAX_MEMBERS])
# @notice A member's index in federation plus one; zero for anyone else.
member_position: HashMap[address, uint256]
# @notice minted[txid][vout]: the deposit id was minted; one slot per id, set once, ever.
minted: public(HashMap[bytes32, HashMap[uint32, bool]])
# @notice Withdrawal requests by id; ids start at 1.
withdrawals: public(HashMap[uint256, Withdrawal])
withdrawal_count: public(uint256)
# @notice Fees of withdrawals not yet released (refunded with them), by asset.
fees_pending: public(HashMap[uint8, uint256])
# @notice Fees of released withdrawals, waiting for distribute(), by asset.
fees_earned: public(HashMap[uint8, uint256])
# @notice Deficits of void claims covered by slashes so far, by asset (out of circulation).
deficit_covered: public(HashMap[uint8, uint256])
# @notice The state root the federation committed at each sidechain height.
commitments: public(HashMap[uint64, bytes32])


@deploy
def __init__(
    members: DynArray[address, MAX_MEMBERS],
    quorum: uint256,
    usdt_address: address,
    court_address: address,
    btc_vault_address: address,
    usdt_vault_address: address,
    fee_bps: uint256,
):
    """
    @param members Federation members' EVM addresses (distinct, non-zero).
    @param quorum Signatures required (1 <= quorum <= len(members)).
    @param usdt_address The USDT token; its bridge must be this contract.
    @param court_address The ChallengeCourt (its bridge must be this contract).
    @param fee_bps Withdrawal fee in basis points (0..9999).
    """
    assert quorum >= 1 and quorum <= len(members), "threshold out of range 1..members"
    assert usdt_address != empty(address), "usdt is the zero address"
    assert court_address != empty(address), "court is the zero address"
    assert btc_vault_address != empty(address), "btc vault is the zero address"
    assert usdt_vault_address != empty(address), "usdt vault is the zero address"
    assert fee_bps < MAX_BPS, "withdrawal fee not below 10000 basis points"
    for i: uint256 in range(len(members), bound=MAX_MEMBERS):
        member: address = members[i]
        assert member != empty(address), "federation member is the zero address"
        assert self.member_position[member] == 0, "duplicate federation member"
        self.member_position[member] = i + 1
    self.federation = members
    threshold = quorum
    usdt = usdt_address
    court = court_address
    btc_vault = btc_vault_address
    usdt_vault = usdt_vault_address
    withdrawal_fee_bps = fee_bps


@external
def deposit(
    txid: bytes32,
    vout: uint32,
    asset: uint8,
    amount: uint256,
    recipient: address,
    signatures: DynArray[Bytes[65], MAX_MEMBERS],
):
    """
    @notice Mint an attested Bitcoin deposit once; called only by the node's system transaction.
    @param txid The Bitcoin txid, bytes in the order bitcoind displays them.
    @param signatures At least threshold EIP-712 signatures, signers strictly ascending.
    """
    assert msg.sender == SYSTEM_ADDRESS, "only system"
    assert asset == ASSET_BTC or asset == ASSET_USDT, "unknown asset"
    assert amount > 0, "amount is zero"
    assert recipient != empty(address), "recipient is the zero address"
    assert not self.minted[txid][vout], "deposit already minted"
    digest: bytes32 = self._deposit_digest(txid, vout, asset, amount, recipient)
    quorum: Quorum = self._check_quorum(digest, signatures)
    self.minted[txid][vout] = True
    if asset == ASSET_USDT:
        extcall IUSDT(usdt).mint(recipient, amount)
    self._record(KIND_DEPOSIT_ATTESTATION, digest, quorum, asset, amount)
    log Deposited(recipient=recipient, txid=txid, vout=vout, asset=asset, amount=amount)


@external
@payable
def withdraw(
    asset: uint8, amount: uint256, bitcoin_address: String[MAX_BITCOIN_ADDRESS]
) -> uint256:
    """
    @notice Give amount (sats or USDT base units) to be paid, less the withdrawal fee, to
            bitcoin_address on Bitcoin. The fee is ceil(amount * withdrawal_fee_bps / 10000);
            the WithdrawalRequested event carries what Bitcoin pays (amount - fee).
    @dev For BTC send exactly amount * 10**10 wei; for USDT the caller's tokens are burned.
    @return The sequential withdrawal id.
    """
    assert amount > 0, "amount is zero"
    self._check_bitcoin_address(bitcoin_address)
    fee: uint256 = (amount * withdrawal_fee_bps + MAX_BPS - 1) // MAX_BPS
    assert amount > fee, "amount does not cover the withdrawal fee"
    if asset == ASSET_BTC:
        assert msg.value == amount * WEI_PER_SAT, "msg.value must equal amount * 10**10 wei"
    elif asset == ASSET_USDT:
        assert msg.value == 0, "msg.value must be zero for a USDT withdrawal"
        extcall IUSDT(usdt).burn(msg.sender, amount)
        if fee > 0:
            extcall IUSDT(usdt).mint(self, fee)
    else:
        raise "unknown asset"
    withdrawal_id: uint256 = self.withdrawal_count + 1
    self.withdrawal_count = withdrawal_id
    self.fees_pending[asset] += fee
    self.withdrawals[withdrawal_id] = Withdrawal(
        sender=msg.sender,
        asset=asset,
        amount=amount - fee,
        status=STATUS_REQUESTED,
        btc_txid=empty(bytes32),
        fee=fee,
    )
    log WithdrawalRequested(
        withdrawal_id=withdrawal_id,
        sender=msg.sender,
        asset=asset,
        amount=amount - fee,
        bitcoin_address=bitcoin_address,
    )
    log WithdrawalFeeCharged(withdrawal_id=withdrawal_id, asset=asset, fee=fee)
    return withdrawal_id


@external
def mark_released(
    withdrawal_id: uint256, btc_txid: bytes32, signatures: DynArray[Bytes[65], MAX_MEMBERS]
):
    """
    @notice Record, on m federation signatures, the Bitcoin transaction paying a withdrawal;
            its fee is earned, and the release is a claim open in the court.
    """
    self._check_pending(withdrawal_id)
    digest: bytes32 = self._release_digest(withdrawal_id, btc_txid)
    quorum: Quorum = self._check_quorum(digest, signatures)
    w: Withdrawal = self.withdrawals[withdrawal_id]
    self.withdrawals[withdrawal_id].status = STATUS_RELEASED
    self.withdrawals[withdrawal_id].btc_txid = btc_txid
    self.fees_pending[w.asset] -= w.fee
    self.fees_earned[w.asset] += w.fee
    self._record(KIND_RELEASE_SIGNATURE, digest, quorum, w.asset, w.amount)
    log WithdrawalReleased(withdrawal_id=withdrawal_id, btc_txid=btc_txid)


@external
def refund(withdrawal_id: uint256, signatures: DynArray[Bytes[65], MAX_MEMBERS]):
    """
    @notice Return a withdrawal the federation rejected to its sender, fee included, on m
            signatures.
    """
    self._check_pending(withdrawal_id)
    self._check_quorum(self._refund_digest(withdrawal_id), signatures)
    w: Withdrawal = self.withdrawals[withdrawal_id]
    self.withdrawals[withdrawal_id].status = STATUS_REFUNDED
    self.fees_pending[w.asset] -= w.fee
    if w.asset == ASSET_USDT:
        extcall IUSDT(usdt).mint(w.sender, w.amount)
        if w.fee > 0:
            assert extcall IUSDT(usdt).transfer(w.sender, w.fee), "token transfer failed"
    else:
        raw_call(w.sender, b"", value=(w.amount + w.fee) * WEI_PER_SAT)
    log WithdrawalRefunded(
        withdrawal_id=withdrawal_id, sender=w.sender, asset=w.asset, amount=w.amount + w.fee
    )


@external
def record_commitment(
    height: uint64, state_root: bytes32, signatures: DynArray[Bytes[65], MAX_MEMBERS]
):
    """
    @notice Record, on m federation signatures, the state root the federation anchored on
            Bitcoin for a sidechain height; it is a claim open in the court.
    """
    assert state_root != empty(bytes32), "state root is zero"
    assert self.commitments[height] == empty(bytes32), "commitment already recorded"
    digest: bytes32 = self._commitment_digest(height, state_root)
    quorum: Quorum = self._check_quorum(digest, signatures)
    self.commitments[height] = state_root
    self._record(KIND_STATE_COMMITMENT, digest, quorum, ASSET_BTC, 0)
    log CommitmentRecorded(height=height, state_root=state_root)


@external
@nonreentrant
def distribute() -> (uint256, uint256):
    """
    @notice Pay the earned fees of each asset to its restaking vault as rewards, split over the
            active operators by stake; anyone may call. An asset whose vault has no active
            stake keeps its fees until it has.
    @return The BTC (sats) and USDT (base units) paid.
    """
    btc: uint256 = self.fees_earned[ASSET_BTC]
    if btc > 0 and staticcall IVault(btc_vault).active_stake() > 0:
        self.fees_earned[ASSET_BTC] = 0
        extcall IVault(btc_vault).reward_all(btc, value=btc * WEI_PER_SAT)
        log FeesDistributed(asset=ASSET_BTC, amount=btc)
    else:
        btc = 0
    units: uint256 = self.fees_earned[ASSET_USDT]
    if units > 0 and staticcall IVault(usdt_vault).active_stake() > 0:
        self.fees_earned[ASSET_USDT] = 0
        assert extcall IUSDT(usdt).approve(usdt_vault, units), "token approval failed"
        extcall IVault(usdt_vault).reward_all(units)
        log FeesDistributed(asset=ASSET_USDT, amount=units)
    else:
        units = 0
    return btc, units


@external
@payable
def cover_deficit(asset: uint8, amount: uint256):
    """
    @notice Take amount out of circulation to cover what a void claim cost the bridge; the
            court only: BTC comes as msg.value and stays locked here, USDT (transferred here
            first) is burned.
    """
    assert msg.sender == court, "only court"
    assert amount > 0, "amount is zero"
    if asset == ASSET_BTC:
        assert msg.value == amount * WEI_PER_SAT, "msg.value must equal amount * 10**10 wei"
    elif asset == ASSET_USDT:
        assert msg.value == 0, "msg.value must be zero for USDT"
        extcall IUSDT(usdt).burn(self, amount)
    else:
        raise "unknown asset"
    self.deficit_covered[asset] += amount
    log DeficitCovered(asset=asset, amount=amount)


@external
@view
def is_member(account: address) -> bool:
    """@notice Whether account is a federation member."""
    return self.member_position[account] != 0


@external
@view
def members() -> DynArray[address, MAX_MEMBERS]:
    """@notice The federation members, in the order of federation(i)."""
    return self.federation


@external
@view
def locked_sats() -> uint256:
    """
    @notice BTC out of circulation, in sats: what withdrawals and covered deficits locked here
            (the balance less the fees held, which are still in circulation). The solvency
            audit's BTC supply is the minted deposits less this.
    """
    held: uint256 = self.fees_pending[ASSET_BTC] + self.fees_earned[ASSET_BTC]
    return self.balance // WEI_PER_SAT - held


@external
@view
def DOMAIN_SEPARATOR() -> bytes32:
    """@notice EIP-712 domain of federation signatures on this chain."""
    return self._domain_separator()


@external
@view
def deposit_digest(
    txid: bytes32, vout: uint32, asset: uint8, amount: uint256, recipient: address
) -> bytes32:
    """@notice The digest federation members sign to attest a deposit."""
    return self._deposit_digest(txid, vout, asset, amount, recipient)


@external
@view
def refund_digest(withdrawal_id: uint256) -> bytes32:
    """@notice The digest federation members sign to refund a withdrawal."""
    return self._refund_digest(withdrawal_id)


@external
@view
def release_digest(withdrawal_id: uint256, btc_txid: bytes32) -> bytes32:
    """@notice The digest federation members sign to record a withdrawal's release."""
    return self._release_digest(withdrawal_id, btc_txid)


@external
@view
def commitment_digest(height: uint64, state_root: bytes32) -> bytes32:
    """@notice The digest federation members sign to record a state commitment."""
    return self._commitment_digest(height, state_root)


@internal
@view
def _check_quorum(digest: bytes32, signatures: DynArray[Bytes[65], MAX_MEMBERS]) -> Quorum:
    """
    @dev Every signature must be a member's; signers strictly ascending, so all distinct.
         Returns the signers and the bitmap of their federation indexes.
    """
    assert len(signatures) >= threshold, "not enough federation signatures"
    quorum: Quorum = empty(Quorum)
    previous: address = empty(address)
    for signature: Bytes[65] in signatures:
        signer: address = eip712.recover_packed(digest, signature)
        position: uint256 = self.member_position[signer]
        assert position != 0, "signer not a federation member"
        is_ascending: bool = convert(signer, uint160) > convert(previous, uint160)
        assert is_ascending, "signers not strictly ascending"
        previous = signer
        quorum.signers.append(signer)
        quorum.bitmap |= 1 << (position - 1)
    return quorum


@internal
def _record(kind: uint8, digest: bytes32, quorum: Quorum, asset: uint8, amount: uint256):
    """@dev Open the claim's challenge window in the court."""
    extcall ICourt(court).record_claim(
        kind, digest, quorum.signers, quorum.bitmap, asset, amount
    )


@internal
@view
def _check_pending(withdrawal_id: uint256):
    status: uint8 = self.withdrawals[withdrawal_id].status
    assert status != 0, "unknown withdrawal"
    assert status != STATUS_RELEASED, "withdrawal already released"
    assert status != STATUS_REFUNDED, "withdrawal already refunded"


@internal
@pure
def _check_bitcoin_address(bitcoin_address: String[MAX_BITCOIN_ADDRESS]):
    """@dev Cheap sanity only (length and [0-9A-Za-z]); the federation validates fully."""
    size: uint256 = len(bitcoin_address)
    assert size != 0, "bitcoin address is empty"
    assert size >= MIN_BITCOIN_ADDRESS, "bitcoin address shorter than 14 characters"
    raw: Bytes[MAX_BITCOIN_ADDRESS] = convert(bitcoin_address, Bytes[MAX_BITCOIN_ADDRESS])
    for i: uint256 in range(size, bound=MAX_BITCOIN_ADDRESS):
        c: uint256 = convert(slice(raw, i, 1), uint256)
        is_digit: bool = c >= 48 and c <= 57
        is_upper: bool = c >= 65 and c <= 90
        is_lower: bool = c >= 97 and c <= 122
        assert is_digit or is_upper or is_lower, (
            "bitcoin address has a character outside [0-9A-Za-z]"
        )


@internal
@view
def _domain_separator() -> bytes32:
    return eip712.domain_separator(keccak256(NAME), keccak256(VERSION))


@internal
@view
def _deposit_digest(
    txid: bytes32, vout: uint32, asset: uint8, amount: uint256, recipient: address
) -> bytes32:
    return eip712.digest(
        self._domain_separator(),
        keccak256(abi_encode(DEPOSIT_TYPEHASH, txid, vout, asset, amount, recipient)),
    )


@internal
@view
def _refund_digest(withdrawal_id: uint256) -> bytes32:
    return eip712.digest(
        self._domain_separator(), keccak256(abi_encode(REFUND_TYPEHASH, withdrawal_id))
    )


@internal
@view
def _release_digest(withdrawal_id: uint256, btc_txid: bytes32) -> bytes32:
    return eip712.digest(
        self._domain_separator(), keccak256(abi_encode(RELEASE_TYPEHASH, withdrawal_id, btc_txid))
    )


@internal
@view
def _commitment_digest(height: uint64, state_root: bytes32) -> bytes32:
    return eip712.digest(
        self._domain_separator(),
        keccak256(abi_encode(COMMITMENT_TYPEHASH, height, state_root)),
    )
