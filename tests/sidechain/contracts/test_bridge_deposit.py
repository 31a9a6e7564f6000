"""Bridge.deposit: m federation signatures mint once per deposit id, only through the system."""

import pytest
from eth_account import Account

from sidechain.attestation import Attestation, Refund, Release, attestation_digest
from sidechain.predeploys import BRIDGE_ADDRESS

CHAIN_ID = 4242  # the harness's chain (conftest.CHAIN_ID)
TXID = bytes.fromhex("a1" * 16 + "b2" * 16)
RECIPIENT = bytes.fromhex("00000000000000000000000000000000000000c1")


def usdt_deposit(amount: int = 250_000_000, vout: int = 1) -> Attestation:
    return Attestation(txid=TXID, vout=vout, asset=1, amount=amount, recipient=RECIPIENT)


def deposit_args(attestation: Attestation, signatures: list[bytes]) -> tuple:
    a = attestation
    return (a.txid, a.vout, a.asset, a.amount, a.recipient, signatures)


def test_m_signatures_mint_usdt_and_emit_deposited(bridge, usdt, federation):
    attestation = usdt_deposit()
    result = bridge.system("deposit", *deposit_args(attestation, federation.sign(attestation)))

    assert result.success, result.revert_reason
    assert usdt.call("balanceOf", RECIPIENT) == 250_000_000
    assert usdt.call("totalSupply") == 250_000_000
    assert bridge.call("minted", TXID, 1) is True
    [event] = bridge.events(result, "Deposited")
    assert event == {
        "recipient": "0x00000000000000000000000000000000000000C1",
        "txid": TXID,
        "vout": 1,
        "asset": 1,
        "amount": 250_000_000,
    }


def test_btc_deposit_is_recorded_and_leaves_native_crediting_to_the_node(
    bridge, usdt, federation, evm
):
    attestation = Attestation(txid=TXID, vout=0, asset=0, amount=12_345, recipient=RECIPIENT)
    result = bridge.system("deposit", *deposit_args(attestation, federation.sign(attestation)))

    assert result.success, result.revert_reason
    assert bridge.call("minted", TXID, 0) is True
    assert evm.state.get_balance(RECIPIENT) == 0
    assert usdt.call("totalSupply") == 0
    assert bridge.events(result, "Deposited")[0]["amount"] == 12_345


def test_all_members_signing_also_mints(bridge, usdt, federation):
    attestation = usdt_deposit()
    signatures = federation.sign(attestation, count=len(federation.members))
    assert bridge.system("deposit", *deposit_args(attestation, signatures)).success


def test_one_signature_short_of_threshold_does_not_mint(bridge, usdt, federation):
    attestation = usdt_deposit()
    signatures = federation.sign(attestation, count=federation.threshold - 1)
    result = bridge.system("deposit", *deposit_args(attestation, signatures))

    assert result.revert_reason == "not enough federation signatures"
    assert bridge.call("minted", TXID, 1) is False
    assert usdt.call("totalSupply") == 0


def test_replayed_deposit_id_never_mints_twice(bridge, usdt, federation):
    attestation = usdt_deposit()
    args = deposit_args(attestation, federation.sign(attestation))
    assert bridge.system("deposit", *args).success

    replay = bridge.system("deposit", *args)
    assert replay.revert_reason == "deposit already minted"
    # Same txid:vout attested with another amount is the same deposit id: refused too.
    other = usdt_deposit(amount=1)
    assert (
        bridge.system("deposit", *deposit_args(other, federation.sign(other))).revert_reason
        == "deposit already minted"
    )
    assert usdt.call("balanceOf", RECIPIENT) == 250_000_000


def test_other_vout_of_same_txid_is_another_deposit(bridge, usdt, federation):
    for vout in (1, 2):
        attestation = usdt_deposit(vout=vout)
        assert bridge.system(
            "deposit", *deposit_args(attestation, federation.sign(attestation))
        ).success
    assert usdt.call("balanceOf", RECIPIENT) == 500_000_000


def test_non_member_signature_is_refused(bridge, usdt, federation):
    attestation = usdt_deposit()
    outsider = Account.from_key(b"\x77" * 32)
    signers = sorted([federation.members[0], outsider], key=lambda a: int(a.address, 16))
    result = bridge.system(
        "deposit", *deposit_args(attestation, federation.sign(attestation, members=signers))
    )

    assert result.revert_reason == "signer not a federation member"
    assert usdt.call("totalSupply") == 0


def test_signature_over_other_fields_is_refused(bridge, usdt, federation):
    signed = usdt_deposit(amount=1)
    claimed = usdt_deposit(amount=10**12)
    result = bridge.system("deposit", *deposit_args(claimed, federation.sign(signed)))
    assert result.revert_reason == "signer not a federation member"


def test_duplicate_signer_is_refused(bridge, usdt, federation):
    attestation = usdt_deposit()
    [signature] = federation.sign(attestation, count=1)
    result = bridge.system("deposit", *deposit_args(attestation, [signature, signature]))
    assert result.revert_reason == "signers not strictly ascending"


def test_signers_out_of_order_are_refused(bridge, usdt, federation):
    attestation = usdt_deposit()
    result = bridge.system(
        "deposit", *deposit_args(attestation, federation.sign(attestation)[::-1])
    )
    assert result.revert_reason == "signers not strictly ascending"


def test_malformed_signature_is_refused(bridge, usdt, federation):
    attestation = usdt_deposit()
    good = federation.sign(attestation)
    high_v = good[0][:64] + bytes([29])
    result = bridge.system("deposit", *deposit_args(attestation, [high_v, good[1]]))
    assert result.revert_reason == "signer not a federation member"


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("asset", 2, "unknown asset"),
        ("amount", 0, "amount is zero"),
        ("recipient", b"\x00" * 20, "recipient is the zero address"),
    ],
)
def test_deposit_with_invalid_field_is_refused(bridge, federation, field, value, reason):
    fields = {"txid": TXID, "vout": 1, "asset": 1, "amount": 5, "recipient": RECIPIENT}
    fields[field] = value
    signatures = federation.sign(usdt_deposit())
    result = bridge.system("deposit", *fields.values(), signatures)
    assert result.revert_reason == reason


def test_only_the_system_address_may_deposit(bridge, usdt, federation, users):
    attestation = usdt_deposit()
    result = bridge.transact(
        users[0], "deposit", *deposit_args(attestation, federation.sign(attestation))
    )

    assert result.revert_reason == "only system"
    assert usdt.call("totalSupply") == 0


def test_python_digests_equal_the_contract_digests(bridge):
    attestation = usdt_deposit()
    assert bridge.call("deposit_digest", *deposit_args(attestation, [])[:5]) == attestation_digest(
        attestation, CHAIN_ID, BRIDGE_ADDRESS
    )
    assert bridge.call("refund_digest", 7) == attestation_digest(
        Refund(7), CHAIN_ID, BRIDGE_ADDRESS
    )
    btc_txid = bytes(range(32))
    assert bridge.call("release_digest", 7, btc_txid) == attestation_digest(
        Release(7, btc_txid), CHAIN_ID, BRIDGE_ADDRESS
    )


def test_constructor_records_federation_and_threshold(bridge, federation):
    assert bridge.call("threshold") == 2
    members = [bridge.call("federation", i) for i in range(3)]
    assert members == [a.lower() for a in federation.addresses]
    assert all(bridge.call("is_member", a) for a in federation.addresses)
    assert bridge.call("usdt") == "0x5100000000000000000000000000000000000002"


def test_high_s_twin_of_a_member_signature_is_refused_like_recover_attester_does(
    bridge, federation
):
    attestation = usdt_deposit()
    first, second = federation.sign(attestation)
    s = int.from_bytes(first[32:64], "big")
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    twin = first[:32] + (n - s).to_bytes(32, "big") + bytes([55 - first[64]])
    result = bridge.system("deposit", *deposit_args(attestation, [twin, second]))
    assert result.revert_reason == "signer not a federation member"
