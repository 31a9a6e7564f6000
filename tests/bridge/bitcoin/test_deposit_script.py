"""Deposit scripts: layout, round trip through parse, addresses per network, every refusal."""

import pytest
from coincurve import PrivateKey

from bridge.bitcoin.deposit_script import MAX_FEDERATION_KEYS, DepositScript, parse_evm_address
from bridge.bitcoin.network import Network, UnknownNetwork
from bridge.bitcoin.script_errors import (
    DuplicatePublicKey,
    IncompleteRefundTerms,
    InvalidEvmAddress,
    InvalidPublicKey,
    InvalidThreshold,
    InvalidTimeout,
    NotADepositScript,
    TooManyKeys,
)

RECIPIENT = "0x" + "ab" * 20
KEYS = [PrivateKey.from_int(n).public_key.format() for n in (1, 2, 3)]  # G, 2G, 3G
REFUND_KEY = PrivateKey.from_int(4).public_key.format()


def deposit(**overrides) -> DepositScript:
    fields = {"recipient": RECIPIENT, "federation_keys": KEYS, "threshold": 2}
    return DepositScript.create(**{**fields, **overrides})


def test_script_is_recipient_drop_then_sorted_multisig():
    script = deposit(federation_keys=list(reversed(KEYS))).witness_script
    sorted_keys = sorted(KEYS)
    expected = (
        bytes([20])
        + bytes.fromhex("ab" * 20)
        + bytes([0x75, 0x52])  # push, OP_DROP, OP_2
        + b"".join(bytes([33]) + key for key in sorted_keys)
        + bytes([0x53, 0xAE])  # OP_3 OP_CHECKMULTISIG
    )
    assert script == expected


def test_key_order_given_does_not_change_the_address():
    assert deposit(federation_keys=KEYS[::-1]).address("regtest") == deposit().address("regtest")


def test_refund_branch_wraps_multisig_in_if_else_with_csv():
    script = deposit(refund_key=REFUND_KEY, timeout=144).witness_script
    assert script.hex() == (
        "14"
        + "ab" * 20
        + "75"
        + "63"
        + "52"
        + "".join("21" + key.hex() for key in sorted(KEYS))
        + "53ae"
        + "67"
        + "029000"
        + "b2"
        + "75"
        + "21"
        + REFUND_KEY.hex()
        + "ac"
        + "68"
    )


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"threshold": 1},
        {"threshold": 3},
        {"refund_key": REFUND_KEY, "timeout": 1},
        {"refund_key": REFUND_KEY, "timeout": 16},
        {"refund_key": REFUND_KEY, "timeout": 17},
        {"refund_key": REFUND_KEY, "timeout": 127},
        {"refund_key": REFUND_KEY, "timeout": 128},
        {"refund_key": REFUND_KEY, "timeout": 65535},
        {
            "federation_keys": [PrivateKey.from_int(n).public_key.format() for n in range(5, 25)],
            "threshold": 17,
            "refund_key": REFUND_KEY,
            "timeout": 1000,
        },
    ],
)
def test_parse_gives_back_the_fields_it_was_built_from(fields):
    built = deposit(**fields)
    assert DepositScript.parse(built.witness_script) == built


# Each network's P2WSH address of the two scripts above (keys G, 2G, 3G; refund key 4G).
ADDRESSES = {
    "plain": {
        "regtest": "bcrt1qchzqjk3pylnx0kzy0n9ytx9n69ufffw7f4axnvczaa52q4xfm0zqcshw79",
        "testnet": "tb1qchzqjk3pylnx0kzy0n9ytx9n69ufffw7f4axnvczaa52q4xfm0zq4fagtl",
        "signet": "tb1qchzqjk3pylnx0kzy0n9ytx9n69ufffw7f4axnvczaa52q4xfm0zq4fagtl",
        "mainnet": "bc1qchzqjk3pylnx0kzy0n9ytx9n69ufffw7f4axnvczaa52q4xfm0zqzpt83s",
    },
    "refundable": {
        "regtest": "bcrt1q0h9r3t9c0x7tn4ysznc3tx92h7vfukq9jtavvvqwwhqyaw9d9xfsuxzspn",
        "testnet": "tb1q0h9r3t9c0x7tn4ysznc3tx92h7vfukq9jtavvvqwwhqyaw9d9xfs3lgk5f",
        "signet": "tb1q0h9r3t9c0x7tn4ysznc3tx92h7vfukq9jtavvvqwwhqyaw9d9xfs3lgk5f",
        "mainnet": "bc1q0h9r3t9c0x7tn4ysznc3tx92h7vfukq9jtavvvqwwhqyaw9d9xfsxh7ewx",
    },
}


@pytest.mark.parametrize("network", ["regtest", "testnet", "signet", "mainnet"])
def test_address_per_network(network):
    assert deposit().address(network) == ADDRESSES["plain"][network]
    refundable = deposit(refund_key=REFUND_KEY, timeout=144)
    assert refundable.address(Network(network)) == ADDRESSES["refundable"][network]


def test_network_hrps_match_bip173_vectors():
    # BIP173's P2WSH vector: witness program of `<G> OP_CHECKSIG`.
    program = bytes.fromhex("1863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262")
    assert (
        Network.MAINNET.segwit_address(0, program)
        == "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3"
    )
    assert (
        Network.TESTNET.segwit_address(0, program)
        == "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7"
    )


def test_script_pubkey_is_witness_v0_of_the_script_sha256():
    import hashlib

    built = deposit()
    assert built.script_pubkey == b"\x00\x20" + hashlib.sha256(built.witness_script).digest()


def test_unknown_network_is_refused_by_name():
    with pytest.raises(UnknownNetwork, match="'bitcoin-cash'"):
        deposit().address("bitcoin-cash")


@pytest.mark.parametrize(
    "value",
    ["0x1234", "ab" * 20, "0x" + "zz" * 20, "0x" + "ab" * 21, b"\x01" * 19, 42],
)
def test_bad_evm_address_is_refused_with_the_value(value):
    with pytest.raises(InvalidEvmAddress) as raised:
        parse_evm_address(value)
    assert raised.value.value == value


def test_mixed_case_evm_address_must_pass_eip55():
    good = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    assert parse_evm_address(good) == bytes.fromhex(good[2:])
    bad = good.replace("a", "A", 1)
    with pytest.raises(InvalidEvmAddress, match="EIP-55"):
        parse_evm_address(bad)


def test_uncompressed_key_is_refused():
    uncompressed = PrivateKey.from_int(5).public_key.format(compressed=False)
    with pytest.raises(InvalidPublicKey, match="uncompressed") as raised:
        deposit(federation_keys=[*KEYS, uncompressed])
    assert raised.value.value == uncompressed


@pytest.mark.parametrize(
    "key",
    [
        b"\x02" + b"\xff" * 32,  # x beyond the field: not on the curve
        b"\x05" + b"\x01" * 32,  # bad prefix
        b"\x02" * 20,  # wrong length
    ],
)
def test_invalid_key_is_refused_with_its_bytes(key):
    with pytest.raises(InvalidPublicKey) as raised:
        deposit(federation_keys=[*KEYS, key])
    assert raised.value.value == key


def test_invalid_refund_key_is_refused():
    with pytest.raises(InvalidPublicKey):
        deposit(refund_key=b"\x03" + b"\xff" * 32, timeout=10)


def test_duplicate_federation_key_is_refused():
    with pytest.raises(DuplicatePublicKey) as raised:
        deposit(federation_keys=[*KEYS, KEYS[0]])
    assert raised.value.value == KEYS[0]


@pytest.mark.parametrize("threshold", [0, -1, 4])
def test_threshold_outside_one_to_n_is_refused(threshold):
    with pytest.raises(InvalidThreshold) as raised:
        deposit(threshold=threshold)
    assert (raised.value.threshold, raised.value.keys) == (threshold, 3)


def test_more_keys_than_checkmultisig_allows_is_refused():
    keys = [PrivateKey.from_int(n).public_key.format() for n in range(1, MAX_FEDERATION_KEYS + 2)]
    with pytest.raises(TooManyKeys) as raised:
        deposit(federation_keys=keys)
    assert raised.value.keys == MAX_FEDERATION_KEYS + 1


@pytest.mark.parametrize("timeout", [0, -5, 65536, 1 << 22])
def test_timeout_outside_bip68_blocks_is_refused(timeout):
    with pytest.raises(InvalidTimeout) as raised:
        deposit(refund_key=REFUND_KEY, timeout=timeout)
    assert raised.value.value == timeout


@pytest.mark.parametrize("fields", [{"refund_key": REFUND_KEY}, {"timeout": 144}])
def test_refund_key_and_timeout_come_together(fields):
    with pytest.raises(IncompleteRefundTerms):
        deposit(**fields)


@pytest.mark.parametrize(
    "script",
    [
        b"",
        bytes.fromhex("14" + "ab" * 19),  # truncated push
        bytes.fromhex("0075"),  # OP_0 OP_DROP
        bytes.fromhex("14" + "ab" * 20 + "75" + "51ac"),  # single-sig, no multisig
        # keys out of order: parses, but is not the canonical script for those fields
        bytes.fromhex(
            "14" + "ab" * 20 + "7552" + "".join("21" + k.hex() for k in sorted(KEYS)[::-1]) + "53ae"
        ),
    ],
)
def test_parse_refuses_what_is_not_a_canonical_deposit_script(script):
    with pytest.raises(NotADepositScript) as raised:
        DepositScript.parse(script)
    assert raised.value.script == script
