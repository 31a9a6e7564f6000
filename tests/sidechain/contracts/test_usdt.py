"""USDT: ERC-20 with 8 decimals, EIP-2612 permit, mint and burn by the Bridge only."""

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak, to_canonical_address

from sidechain.predeploys import BRIDGE_ADDRESS, USDT_ADDRESS

CHAIN_ID = 4242
ZERO = "0x" + "0" * 40


@pytest.fixture
def funded(evm, usdt, users):
    """users[0] holds 1,000 USDT base units, minted by a call from the Bridge's address."""
    result = evm.message_call(
        BRIDGE_ADDRESS, USDT_ADDRESS, usdt.calldata("mint", users[0].address, 1_000)
    )
    assert result.success, result.revert_reason
    return users


def permit_signature(owner, spender: str, value: int, nonce: int, deadline: int, signer=None):
    typed = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "Permit": [
                {"name": "owner", "type": "address"},
                {"name": "spender", "type": "address"},
                {"name": "value", "type": "uint256"},
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"},
            ],
        },
        "primaryType": "Permit",
        "domain": {
            "name": "Tether USD",
            "version": "1",
            "chainId": CHAIN_ID,
            "verifyingContract": "0x5100000000000000000000000000000000000002",
        },
        "message": {
            "owner": owner.address,
            "spender": spender,
            "value": value,
            "nonce": nonce,
            "deadline": deadline,
        },
    }
    signed = (signer or owner).sign_message(encode_typed_data(full_message=typed))
    return signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")


def test_metadata_matches_usdt_on_bitcoin(usdt):
    assert usdt.call("name") == "Tether USD"
    assert usdt.call("symbol") == "USDT"
    assert usdt.call("decimals") == 8
    assert usdt.call("bridge") == "0x5100000000000000000000000000000000000001"


def test_transfer_moves_balance_and_emits(usdt, funded):
    owner, receiver = funded[0], funded[1]
    result = usdt.transact(owner, "transfer", receiver.address, 300)

    assert result.success, result.revert_reason
    assert usdt.call("balanceOf", owner.address) == 700
    assert usdt.call("balanceOf", receiver.address) == 300
    assert usdt.call("totalSupply") == 1_000
    assert usdt.events(result, "Transfer") == [
        {"sender": owner.address, "receiver": receiver.address, "value": 300}
    ]


def test_transfer_above_balance_or_to_zero_is_refused(usdt, funded):
    assert usdt.transact(funded[0], "transfer", funded[1].address, 1_001).revert_reason == (
        "transfer amount exceeds balance"
    )
    assert (
        usdt.transact(funded[0], "transfer", ZERO, 1).revert_reason
        == "transfer to the zero address"
    )


def test_approve_then_transfer_from_spends_the_allowance(usdt, funded):
    owner, spender, receiver = funded[0], funded[1], funded[2]
    approval = usdt.transact(owner, "approve", spender.address, 500)
    assert usdt.events(approval, "Approval") == [
        {"owner": owner.address, "spender": spender.address, "value": 500}
    ]

    assert usdt.transact(spender, "transferFrom", owner.address, receiver.address, 200).success
    assert usdt.call("allowance", owner.address, spender.address) == 300
    assert usdt.call("balanceOf", receiver.address) == 200

    over = usdt.transact(spender, "transferFrom", owner.address, receiver.address, 301)
    assert over.revert_reason == "transfer amount exceeds allowance"


def test_infinite_allowance_is_not_decreased(usdt, funded):
    owner, spender = funded[0], funded[1]
    usdt.transact(owner, "approve", spender.address, 2**256 - 1)
    assert usdt.transact(spender, "transferFrom", owner.address, spender.address, 10).success
    assert usdt.call("allowance", owner.address, spender.address) == 2**256 - 1


def test_permit_sets_allowance_from_the_owners_signature(usdt, funded, evm):
    owner, spender = funded[0], funded[1]
    deadline = evm.state.timestamp + 3600
    v, r, s = permit_signature(owner, spender.address, 400, 0, deadline)

    # The spender submits it and pays the gas; the owner never sends a transaction.
    result = usdt.transact(
        spender, "permit", owner.address, spender.address, 400, deadline, v, r, s
    )
    assert result.success, result.revert_reason
    assert usdt.call("allowance", owner.address, spender.address) == 400
    assert usdt.call("nonces", owner.address) == 1
    assert usdt.transact(spender, "transferFrom", owner.address, spender.address, 400).success

    replay = usdt.transact(
        spender, "permit", owner.address, spender.address, 400, deadline, v, r, s
    )
    assert replay.revert_reason == "invalid permit signature"


def test_expired_permit_is_refused(usdt, funded, evm):
    owner, spender = funded[0], funded[1]
    deadline = evm.state.timestamp - 1
    v, r, s = permit_signature(owner, spender.address, 400, 0, deadline)
    result = usdt.transact(
        spender, "permit", owner.address, spender.address, 400, deadline, v, r, s
    )
    assert result.revert_reason == "permit expired"
    assert usdt.call("nonces", owner.address) == 0


def test_permit_signed_by_someone_else_is_refused(usdt, funded, evm):
    owner, spender = funded[0], funded[1]
    deadline = evm.state.timestamp + 3600
    v, r, s = permit_signature(
        owner, spender.address, 400, 0, deadline, signer=Account.from_key(b"\x55" * 32)
    )
    result = usdt.transact(
        spender, "permit", owner.address, spender.address, 400, deadline, v, r, s
    )
    assert result.revert_reason == "invalid permit signature"
    assert usdt.call("allowance", owner.address, spender.address) == 0


def test_domain_separator_is_the_eip712_domain_of_this_chain(usdt):
    type_hash = keccak(
        text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    )
    expected = keccak(
        type_hash
        + keccak(text="Tether USD")
        + keccak(text="1")
        + CHAIN_ID.to_bytes(32, "big")
        + USDT_ADDRESS.rjust(32, b"\x00")
    )
    assert usdt.call("DOMAIN_SEPARATOR") == expected


@pytest.mark.parametrize("function", ["mint", "burn"])
def test_only_the_bridge_mints_and_burns(usdt, funded, function):
    result = usdt.transact(funded[0], function, funded[0].address, 1)
    assert result.revert_reason == "only bridge"
    assert usdt.call("totalSupply") == 1_000


def test_supply_stays_exact_when_a_burn_hits_another_shard_than_the_mint(evm, usdt, funded):
    owner, other = funded[0], funded[1]
    assert to_canonical_address(owner.address)[-1] != to_canonical_address(other.address)[-1]
    usdt.transact(owner, "transfer", other.address, 600)
    burn = evm.message_call(BRIDGE_ADDRESS, USDT_ADDRESS, usdt.calldata("burn", other.address, 600))
    assert burn.success, burn.revert_reason

    assert usdt.call("totalSupply") == 400
    assert usdt.call("supply_shards", to_canonical_address(other.address)[-1]) == -600
    assert usdt.call("supply_shards", to_canonical_address(owner.address)[-1]) == 1_000
