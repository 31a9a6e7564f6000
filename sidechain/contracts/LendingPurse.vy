# pragma version 0.4.3
"""
@title Lending purse: one borrower's restaking-token collateral in the lending pool
@notice The pool creates one purse per account from this blueprint on its first rsBTC or
        rsUSDT supply, and keeps that account's restaking shares in it; only the pool can
        move them out (a withdrawal or a liquidation).
@dev A restaking vault keeps all of an account's shares in one operator's pool, so a single
     pool contract could hold rsBTC of only one operator. Each purse is its own vault
     account: each borrower's collateral keeps its own operator, and its value is
     vault.assets_of(purse), which a slash of that operator lowers at once.
"""

from ethereum.ercs import IERC20

# @notice The lending pool that created this purse, the only account allowed to pay out.
pool: public(immutable(address))


@deploy
def __init__():
    """@dev The creator (msg.sender) is the pool."""
    pool = msg.sender


@external
def pay(token: address, receiver: address, amount: uint256):
    """@notice Transfer amount of token (a restaking vault's shares) to receiver; pool only."""
    assert msg.sender == pool, "only pool"
    assert extcall IERC20(token).transfer(receiver, amount), "token transfer failed"
