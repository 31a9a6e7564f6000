# pragma version 0.4.3
"""
@title EIP-712 helpers shared by Bridge and USDT
@notice Domain separator, typed-data digest and strict ECDSA recovery; a stateless library module.
"""

# keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
EIP712_DOMAIN_TYPEHASH: constant(bytes32) = keccak256(
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
# Upper bound of a canonical (low) s value: secp256k1 order / 2, as required since EIP-2.
HALF_CURVE_ORDER: constant(bytes32) = (
    0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0
)


@internal
@view
def domain_separator(name_hash: bytes32, version_hash: bytes32) -> bytes32:
    """@notice This contract's domain on this chain; computed per call so it follows chain.id."""
    return keccak256(
        abi_encode(EIP712_DOMAIN_TYPEHASH, name_hash, version_hash, chain.id, self)
    )


@internal
@pure
def digest(domain: bytes32, struct_hash: bytes32) -> bytes32:
    """@notice The EIP-712 digest that is signed: keccak256(0x1901 || domain || structHash)."""
    return keccak256(concat(b"\x19\x01", domain, struct_hash))


@internal
@pure
def recover(digest: bytes32, v: uint8, r: bytes32, s: bytes32) -> address:
    """@notice The signer of digest, or the zero address for a malformed or high-s signature."""
    if v != 27 and v != 28:
        return empty(address)
    if convert(s, uint256) > convert(HALF_CURVE_ORDER, uint256):
        return empty(address)
    return ecrecover(digest, v, r, s)


@internal
@pure
def recover_packed(digest: bytes32, signature: Bytes[65]) -> address:
    """@notice recover() for a 65-byte r || s || v signature, the form eth-account produces."""
    if len(signature) != 65:
        return empty(address)
    r: bytes32 = extract32(signature, 0)
    s: bytes32 = extract32(signature, 32)
    v: uint8 = convert(slice(signature, 64, 1), uint8)
    return self.recover(digest, v, r, s)
