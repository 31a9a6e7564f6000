# pragma version 0.4.3
"""
@title Tether USD on the Sluice sidechain
@notice ERC-20 with 8 decimals (the base units of USDT on Bitcoin) and EIP-2612 permit.
        Only the Bridge mints (deposits) and burns (withdrawals).
@dev Hot-slot rule: the parallel executor runs independent mints and transfers at once only if
     they write disjoint storage. A single totalSupply slot would be written by every mint and
     burn and serialize them all, so the supply is split into SUPPLY_SHARDS signed shards keyed
     by the low byte of the account minted to or burned from. A shard may go negative (mint to
     A, transfer to B, burn from B) but their sum is always the supply; totalSupply() adds
     them. Transfers never touch the shards.
"""

from ethereum.ercs import IERC20

import eip712

implements: IERC20

event Transfer:
    sender: indexed(address)
    receiver: indexed(address)
    value: uint256

event Approval:
    owner: indexed(address)
    spender: indexed(address)
    value: uint256

SUPPLY_SHARDS: constant(uint256) = 256
PERMIT_TYPEHASH: constant(bytes32) = keccak256(
    "Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"
)

name: public(constant(String[10])) = "Tether USD"
symbol: public(constant(String[4])) = "USDT"
decimals: public(constant(uint8)) = 8
VERSION: constant(String[1]) = "1"

# @notice The only account allowed to mint and burn.
bridge: public(immutable(address))

balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])
# @notice EIP-2612 permit nonce of each owner.
nonces: public(HashMap[address, uint256])
# @notice Net amount minted minus burned for accounts whose address ends in the shard's byte.
supply_shards: public(int256[SUPPLY_SHARDS])


@deploy
def __init__(bridge_address: address):
    """@param bridge_address The Bridge contract, holder of the mint and burn rights."""
    assert bridge_address != empty(address), "bridge is the zero address"
    bridge = bridge_address


@external
@view
def totalSupply() -> uint256:
    """@notice Sum of the supply shards (256 storage reads: meant for calls, not hot paths)."""
    total: int256 = 0
    for i: uint256 in range(SUPPLY_SHARDS):
        total += self.supply_shards[i]
    return convert(total, uint256)


@external
@view
def DOMAIN_SEPARATOR() -> bytes32:
    """@notice EIP-712 domain of permit signatures on this chain."""
    return self._domain_separator()


@external
def transfer(receiver: address, amount: uint256) -> bool:
    """@notice Move amount from the caller to receiver."""
    self._transfer(msg.sender, receiver, amount)
    return True


@external
def transferFrom(sender: address, receiver: address, amount: uint256) -> bool:
    """@notice Move amount from sender to receiver using the caller's allowance."""
    allowed: uint256 = self.allowance[sender][msg.sender]
    if allowed != max_value(uint256):
        assert allowed >= amount, "transfer amount exceeds allowance"
        self.allowance[sender][msg.sender] = allowed - amount
    self._transfer(sender, receiver, amount)
    return True


@external
def approve(spender: address, amount: uint256) -> bool:
    """@notice Let spender move up to amount of the caller's tokens."""
    self._approve(msg.sender, spender, amount)
    return True


@external
def permit(
    owner: address,
    spender: address,
    amount: uint256,
    deadline: uint256,
    v: uint8,
    r: bytes32,
    s: bytes32,
):
    """@notice EIP-2612: approve by the owner's signature instead of a transaction."""
    assert owner != empty(address), "permit owner is the zero address"
    assert block.timestamp <= deadline, "permit expired"
    nonce: uint256 = self.nonces[owner]
    struct_hash: bytes32 = keccak256(
        abi_encode(PERMIT_TYPEHASH, owner, spender, amount, nonce, deadline)
    )
    digest: bytes32 = eip712.digest(self._domain_separator(), struct_hash)
    assert eip712.recover(digest, v, r, s) == owner, "invalid permit signature"
    self.nonces[owner] = nonce + 1
    self._approve(owner, spender, amount)


@external
def mint(receiver: address, amount: uint256):
    """@notice Credit a bridged deposit; Bridge only."""
    assert msg.sender == bridge, "only bridge"
    assert receiver != empty(address), "mint to the zero address"
    self.balanceOf[receiver] += amount
    self._add_supply(receiver, convert(amount, int256))
    log Transfer(sender=empty(address), receiver=receiver, value=amount)


@external
def burn(owner: address, amount: uint256):
    """@notice Destroy owner's tokens for a withdrawal to Bitcoin; Bridge only."""
    assert msg.sender == bridge, "only bridge"
    balance: uint256 = self.balanceOf[owner]
    assert balance >= amount, "burn amount exceeds balance"
    self.balanceOf[owner] = balance - amount
    self._add_supply(owner, -convert(amount, int256))
    log Transfer(sender=owner, receiver=empty(address), value=amount)


@internal
def _transfer(sender: address, receiver: address, amount: uint256):
    assert receiver != empty(address), "transfer to the zero address"
    # Read and written in place, never through a local: the pool's balance is a counter every
    # borrow and repay shifts, and the parallel executor merges such shifts only while the
    # value stays on the EVM stack (a memory copy makes each one conflict).
    assert self.balanceOf[sender] >= amount, "transfer amount exceeds balance"
    self.balanceOf[sender] -= amount
    self.balanceOf[receiver] += amount
    log Transfer(sender=sender, receiver=receiver, value=amount)


@internal
def _approve(owner: address, spender: address, amount: uint256):
    assert spender != empty(address), "approve to the zero address"
    self.allowance[owner][spender] = amount
    log Approval(owner=owner, spender=spender, value=amount)


@internal
def _add_supply(account: address, delta: int256):
    shard: uint256 = convert(account, uint256) % SUPPLY_SHARDS
    self.supply_shards[shard] += delta


@internal
@view
def _domain_separator() -> bytes32:
    return eip712.domain_separator(keccak256(name), keccak256(VERSION))
