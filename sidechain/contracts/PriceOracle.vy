# pragma version 0.4.3
"""
@title Sluice price oracle: prices signed m-of-n by the federation
@notice Anyone posts a report (asset, price, timestamp, round) with at least `threshold`
        EIP-712 signatures of federation members (members and threshold are the Bridge's).
        A report must be newer than the current one (round and timestamp both strictly
        higher, so a replay is refused), not older than `max_age` seconds, not from the
        future, and move the price by at most `max_deviation_bps` from the current one.
        price() refuses a price older than `max_age`, so a silent federation halts borrowing
        and liquidations instead of letting them run on an old price.
@dev Prices are USD per whole coin with 8 decimals (10**8 base units of BTC or USDT are worth
     price * 10**-8 USD). Asset ids are the Bridge's: 0 = BTC, 1 = USDT. Restaking tokens are
     priced by the lending pool as the underlying's price times the vault's exchange rate.
     Hot-slot rule: a report writes only its asset's slots; readers never write.
     Signatures are EIP-712, domain ("Sluice Price Oracle", "1", chain id, this).
"""

import eip712


interface IBridge:
    def is_member(account: address) -> bool: view
    def threshold() -> uint256: view


event PricePosted:
    asset: indexed(uint8)
    price: uint256
    timestamp: uint256
    round: uint256


struct PriceReport:
    price: uint256
    timestamp: uint256
    round: uint256


ASSET_COUNT: constant(uint8) = 2
MAX_MEMBERS: constant(uint256) = 32
MAX_BPS: constant(uint256) = 10_000
NAME: constant(String[19]) = "Sluice Price Oracle"
VERSION: constant(String[1]) = "1"
PRICE_TYPEHASH: constant(bytes32) = keccak256(
    "Price(uint8 asset,uint256 price,uint256 timestamp,uint256 round)"
)

# @notice The Bridge whose federation signs prices (is_member, threshold).
bridge: public(immutable(address))
# @notice Seconds after its timestamp that a price is still usable.
max_age: public(immutable(uint256))
# @notice Largest move from one round to the next, in basis points of the current price.
max_deviation_bps: public(immutable(uint256))

# @notice The current report of each asset; price zero until the first report.
reports: public(HashMap[uint8, PriceReport])


@deploy
def __init__(bridge_address: address, max_age_seconds: uint256, deviation_bps: uint256):
    """
    @param bridge_address The Bridge (its federation and threshold sign prices).
    @param max_age_seconds Staleness limit of a price, in seconds (> 0).
    @param deviation_bps Largest move per round (1..10000 basis points).
    """
    assert bridge_address != empty(address), "bridge is the zero address"
    assert max_age_seconds > 0, "max age is zero"
    assert deviation_bps > 0 and deviation_bps <= MAX_BPS, "deviation out of range 1..10000"
    bridge = bridge_address
    max_age = max_age_seconds
    max_deviation_bps = deviation_bps


@external
def post(
    asset: uint8,
    price: uint256,
    timestamp: uint256,
    round: uint256,
    signatures: DynArray[Bytes[65], MAX_MEMBERS],
):
    """
    @notice Record a federation-signed price of asset.
    @param signatures At least the Bridge's threshold of signatures, signers strictly ascending.
    """
    assert asset < ASSET_COUNT, "unknown asset"
    assert price > 0, "price is zero"
    assert timestamp <= block.timestamp, "price report from the future"
    assert block.timestamp - timestamp <= max_age, "price report is stale"
    current: PriceReport = self.reports[asset]
    assert round > current.round, "price round already posted"
    assert timestamp > current.timestamp, "price report older than the current price"
    if current.price != 0:
        move: uint256 = max(price, current.price) - min(price, current.price)
        assert move * MAX_BPS <= current.price * max_deviation_bps, (
            "price moves more than the maximum deviation"
        )
    self._check_quorum(self._price_digest(asset, price, timestamp, round), signatures)
    self.reports[asset] = PriceReport(price=price, timestamp=timestamp, round=round)
    log PricePosted(asset=asset, price=price, timestamp=timestamp, round=round)


@external
@view
def price(asset: uint8) -> uint256:
    """@notice The current price of asset; reverts if there is none or it is stale."""
    report: PriceReport = self.reports[asset]
    assert report.price != 0, "no price for asset"
    assert block.timestamp - report.timestamp <= max_age, "price is stale"
    return report.price


@external
@view
def DOMAIN_SEPARATOR() -> bytes32:
    """@notice EIP-712 domain of price signatures on this chain."""
    return self._domain_separator()


@external
@view
def price_digest(asset: uint8, price: uint256, timestamp: uint256, round: uint256) -> bytes32:
    """@notice The digest federation members sign to report a price."""
    return self._price_digest(asset, price, timestamp, round)


@internal
@view
def _check_quorum(digest: bytes32, signatures: DynArray[Bytes[65], MAX_MEMBERS]):
    """@dev Every signature must be a member's; signers strictly ascending, so all distinct."""
    assert len(signatures) >= staticcall IBridge(bridge).threshold(), (
        "not enough federation signatures"
    )
    previous: address = empty(address)
    for signature: Bytes[65] in signatures:
        signer: address = eip712.recover_packed(digest, signature)
        assert staticcall IBridge(bridge).is_member(signer), "signer not a federation member"
        is_ascending: bool = convert(signer, uint160) > convert(previous, uint160)
        assert is_ascending, "signers not strictly ascending"
        previous = signer


@internal
@view
def _domain_separator() -> bytes32:
    return eip712.domain_separator(keccak256(NAME), keccak256(VERSION))


@internal
@view
def _price_digest(asset: uint8, price: uint256, timestamp: uint256, round: uint256) -> bytes32:
    return eip712.digest(
        self._domain_separator(),
        keccak256(abi_encode(PRICE_TYPEHASH, asset, price, timestamp, round)),
    )
