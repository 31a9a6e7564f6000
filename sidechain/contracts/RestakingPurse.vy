# pragma version 0.4.3
"""
@title Restaking purse: one operator's tokens in an ERC-20 restaking vault
@notice The vault creates one purse per operator from this blueprint and stakes, rewards,
        claims and slashes of that operator move tokens in and out of it; only the vault can
        move them out.
@dev Hot-slot rule: if the vault held every operator's tokens itself, each stake would write
     the vault's token balance slot and serialize all stakes; with one purse per operator,
     stakes to different operators credit different balances.
"""

from ethereum.ercs import IERC20

# @notice The vault that created this purse, the only account allowed to pay out.
vault: public(immutable(address))
# @notice The ERC-20 held.
token: public(immutable(address))


@deploy
def __init__(token_address: address):
    """@param token_address The vault's asset; the creator (msg.sender) is the vault."""
    vault = msg.sender
    token = token_address


@external
def pay(receiver: address, amount: uint256):
    """@notice Transfer amount of the token to receiver; vault only."""
    assert msg.sender == vault, "only vault"
    assert extcall IERC20(token).transfer(receiver, amount), "token transfer failed"
