# pragma version 0.4.3
"""
@title Sluice Bridge
@notice Mints BTC and USDT for Bitcoin deposits attested by m federation members, burns them
        for withdrawals to Bitcoin, and records each withdrawal's release or refund.
@dev BTC is the sidechain's native coin and a contract cannot create it: deposit() only checks
     and records a BTC deposit, and the node credits amount * 10**10 wei to the recipient when
     the call succeeds. Withdrawn BTC stays locked here, out of circulation (that is the burn).
     Hot-slot rule: deposit() writes only the slot of its own deposit id (plus, for USDT, the
     recipient's balance and supply shard), never a shared counter, so independent deposits
     run in parallel. Signatures are EIP-712, domain ("Sluice Bridge", "1", chain id, this).
"""

import eip712


interface IUSDT:
    def mint(receiver: address, amount: uint256): nonpayable
    def burn(owner: address, amount: uint256): nonpayable


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


struct Withdrawal:
    sender: address
    asset: uint8
    amount: uint256
    status: uint8
    btc_txid: bytes32


ASSET_BTC: constant(uint8) = 0
ASSET_USDT: constant(uint8) = 1
WEI_PER_SAT: constant(uint256) = 10**10
SYSTEM_ADDRESS: constant(address) = 0xffffFFFfFFffffffffffffffFfFFFfffFFFfFFfE
MAX_MEMBERS: constant(uint256) = 32
MIN_BITCOIN_ADDRESS: constant(uint256) = 14
MAX_BITCOIN_ADDRESS: constant(uint256) = 90

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

# @notice Signatures needed for a deposit, a refund or a release.
threshold: public(immutable(uint256))
# @notice The USDT token this bridge mints and burns.
usdt: public(immutable(address))
# @notice Federation members (EVM addresses), in the order given at deployment.
federation: public(DynArray[address, MAX_MEMBERS])
is_member: public(HashMap[address, bool])
# @notice minted[txid][vout]: the deposit id was minted; one slot per id, set once, ever.
minted: public(HashMap[bytes32, HashMap[uint32, bool]])
# @notice Withdrawal requests by id; ids start at 1.
withdrawals: public(HashMap[uint256, Withdrawal])
withdrawal_count: public(uint256)


@deploy
def __init__(members: DynArray[address, MAX_MEMBERS], quorum: uint256, usdt_address: address):
    """
    @param members Federation members' EVM addresses (distinct, non-zero).
    @param quorum Signatures required (1 <= quorum <= len(members)).
    @param usdt_address The USDT token; its bridge must be this contract.
    """
    assert quorum >= 1 and quorum <= len(members), "threshold out of range 1..members"
    assert usdt_address != empty(address), "usdt is the zero address"
    for member: address in members:
        assert member != empty(address), "federation member is the zero address"
        assert not self.is_member[member], "duplicate federation member"
        self.is_member[member] = True
    self.federation = members
    threshold = quorum
    usdt = usdt_address


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
    self._check_quorum(self._deposit_digest(txid, vout, asset, amount, recipient), signatures)
    self.minted[txid][vout] = True
    if asset == ASSET_USDT:
        extcall IUSDT(usdt).mint(recipient, amount)
    log Deposited(recipient=recipient, txid=txid, vout=vout, asset=asset, amount=amount)


@external
@payable
def withdraw(
    asset: uint8, amount: uint256, bitcoin_address: String[MAX_BITCOIN_ADDRESS]
) -> uint256:
    """
    @notice Burn amount (sats or USDT base units) to be paid to bitcoin_address on Bitcoin.
    @dev For BTC send exactly amount * 10**10 wei; for USDT the caller's tokens are burned.
    @return The sequential withdrawal id.
    """
    assert amount > 0, "amount is zero"
    self._check_bitcoin_address(bitcoin_address)
    if asset == ASSET_BTC:
        assert msg.value == amount * WEI_PER_SAT, "msg.value must equal amount * 10**10 wei"
    elif asset == ASSET_USDT:
        assert msg.value == 0, "msg.value must be zero for a USDT withdrawal"
        extcall IUSDT(usdt).burn(msg.sender, amount)
    else:
        raise "unknown asset"
    withdrawal_id: uint256 = self.withdrawal_count + 1
    self.withdrawal_count = withdrawal_id
    self.withdrawals[withdrawal_id] = Withdrawal(
        sender=msg.sender,
        asset=asset,
        amount=amount,
        status=STATUS_REQUESTED,
        btc_txid=empty(bytes32),
    )
    log WithdrawalRequested(
        withdrawal_id=withdrawal_id,
        sender=msg.sender,
        asset=asset,
        amount=amount,
        bitcoin_address=bitcoin_address,
    )
    return withdrawal_id


@external
def mark_released(
    withdrawal_id: uint256, btc_txid: bytes32, signatures: DynArray[Bytes[65], MAX_MEMBERS]
):
    """@notice Record, on m federation signatures, the Bitcoin transaction paying a withdrawal."""
    self._check_pending(withdrawal_id)
    self._check_quorum(self._release_digest(withdrawal_id, btc_txid), signatures)
    self.withdrawals[withdrawal_id].status = STATUS_RELEASED
    self.withdrawals[withdrawal_id].btc_txid = btc_txid
    log WithdrawalReleased(withdrawal_id=withdrawal_id, btc_txid=btc_txid)


@external
def refund(withdrawal_id: uint256, signatures: DynArray[Bytes[65], MAX_MEMBERS]):
    """@notice Return a withdrawal the federation rejected to its sender, on m signatures."""
    self._check_pending(withdrawal_id)
    self._check_quorum(self._refund_digest(withdrawal_id), signatures)
    w: Withdrawal = self.withdrawals[withdrawal_id]
    self.withdrawals[withdrawal_id].status = STATUS_REFUNDED
    if w.asset == ASSET_USDT:
        extcall IUSDT(usdt).mint(w.sender, w.amount)
    else:
        raw_call(w.sender, b"", value=w.amount * WEI_PER_SAT)
    log WithdrawalRefunded(
        withdrawal_id=withdrawal_id, sender=w.sender, asset=w.asset, amount=w.amount
    )


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


@internal
@view
def _check_quorum(digest: bytes32, signatures: DynArray[Bytes[65], MAX_MEMBERS]):
    """@dev Every signature must be a member's; signers strictly ascending, so all distinct."""
    assert len(signatures) >= threshold, "not enough federation signatures"
    previous: address = empty(address)
    for signature: Bytes[65] in signatures:
        signer: address = eip712.recover_packed(digest, signature)
        assert self.is_member[signer], "signer not a federation member"
        is_ascending: bool = convert(signer, uint160) > convert(previous, uint160)
        assert is_ascending, "signers not strictly ascending"
        previous = signer


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
