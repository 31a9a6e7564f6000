"""Independent deposits and transfers write disjoint storage, so the parallel executor can run
them at once: no slot is written by every mint (the hot-slot rule)."""

from sidechain.attestation import Attestation
from sidechain.predeploys import BRIDGE_ADDRESS, USDT_ADDRESS

A = bytes.fromhex("00000000000000000000000000000000000001a1")
B = bytes.fromhex("00000000000000000000000000000000000001b2")
C = bytes.fromhex("00000000000000000000000000000000000002a1")  # same low byte (shard) as A


def deposit_writes(evm, bridge, federation, recipient: bytes, vout: int, asset: int = 1) -> set:
    a = Attestation(txid=b"\x42" * 32, vout=vout, asset=asset, amount=1_000, recipient=recipient)
    with evm.record_storage_writes() as writes:
        result = bridge.system(
            "deposit", a.txid, a.vout, a.asset, a.amount, a.recipient, federation.sign(a)
        )
    assert result.success, result.revert_reason
    return writes


def test_usdt_deposits_to_different_shards_write_disjoint_slots(evm, bridge, federation):
    first = deposit_writes(evm, bridge, federation, A, vout=0)
    second = deposit_writes(evm, bridge, federation, B, vout=1)

    assert first.isdisjoint(second)
    # Each writes its own minted flag, the recipient's balance and the recipient's shard.
    assert len(first) == len(second) == 3
    assert sum(1 for address, _ in first if address == BRIDGE_ADDRESS) == 1


def test_usdt_deposits_to_the_same_shard_share_only_the_shard_slot(evm, bridge, usdt, federation):
    first = deposit_writes(evm, bridge, federation, A, vout=0)
    second = deposit_writes(evm, bridge, federation, C, vout=1)

    [shared] = first & second
    assert shared[0] == USDT_ADDRESS
    assert usdt.call("supply_shards", 0xA1) == 2_000


def test_btc_deposits_write_only_their_own_minted_flag(evm, bridge, federation):
    first = deposit_writes(evm, bridge, federation, A, vout=0, asset=0)
    second = deposit_writes(evm, bridge, federation, A, vout=1, asset=0)

    assert len(first) == len(second) == 1
    assert first.isdisjoint(second)
    assert {address for address, _ in first | second} == {BRIDGE_ADDRESS}


def test_transfers_between_disjoint_pairs_write_disjoint_slots(
    evm, bridge, usdt, federation, users
):
    for vout, user in enumerate(users[:2]):
        deposit_writes(evm, bridge, federation, bytes.fromhex(user.address[2:]), vout=vout)

    with evm.record_storage_writes() as first:
        assert usdt.transact(users[0], "transfer", users[2].address, 10).success
    with evm.record_storage_writes() as second:
        assert usdt.transact(users[1], "transfer", users[3].address, 10).success

    assert first.isdisjoint(second)
    assert len(first) == len(second) == 2
