"""Independent deposits and transfers touch disjoint storage, so the parallel executor can run
them at once: no slot is written by every mint (the hot-slot rule), neither the Bridge's nor
the court's, whose claim record each deposit writes in its own slot. A transaction's storage
read set counts too: Block-STM re-executes one that read what an earlier one wrote."""

from sidechain.attestation import Attestation
from sidechain.predeploys import BRIDGE_ADDRESS, COURT_ADDRESS, USDT_ADDRESS

A = bytes.fromhex("00000000000000000000000000000000000001a1")
B = bytes.fromhex("00000000000000000000000000000000000001b2")
C = bytes.fromhex("00000000000000000000000000000000000002a1")  # same low byte (shard) as A


def deposit_access(evm, bridge, federation, recipient: bytes, vout: int, asset: int = 1):
    a = Attestation(txid=b"\x42" * 32, vout=vout, asset=asset, amount=1_000, recipient=recipient)
    with evm.record_storage_access() as access:
        result = bridge.system(
            "deposit", a.txid, a.vout, a.asset, a.amount, a.recipient, federation.sign(a)
        )
    assert result.success, result.revert_reason
    return access


def test_usdt_deposits_to_different_shards_are_independent(evm, bridge, federation):
    first = deposit_access(evm, bridge, federation, A, vout=0)
    second = deposit_access(evm, bridge, federation, B, vout=1)

    assert first.independent_of(second)
    # Each writes its own minted flag, its own claim, the recipient's balance and shard.
    assert len(first.writes) == len(second.writes) == 4
    for access in (first, second):
        assert sum(1 for address, _ in access.writes if address == BRIDGE_ADDRESS) == 1
        assert sum(1 for address, _ in access.writes if address == COURT_ADDRESS) == 1


def test_usdt_deposits_to_the_same_shard_share_only_the_shard_slot(evm, bridge, usdt, federation):
    first = deposit_access(evm, bridge, federation, A, vout=0)
    second = deposit_access(evm, bridge, federation, C, vout=1)

    [shared] = first.writes & second.writes
    assert shared[0] == USDT_ADDRESS
    assert first.conflicts(second) == {shared}
    assert usdt.call("supply_shards", 0xA1) == 2_000


def test_btc_deposits_write_only_their_own_minted_flag_and_claim(evm, bridge, federation):
    first = deposit_access(evm, bridge, federation, A, vout=0, asset=0)
    second = deposit_access(evm, bridge, federation, A, vout=1, asset=0)

    assert len(first.writes) == len(second.writes) == 2
    assert first.independent_of(second)
    assert {address for address, _ in first.writes | second.writes} == {
        BRIDGE_ADDRESS,
        COURT_ADDRESS,
    }


def test_transfers_between_disjoint_pairs_are_independent(evm, bridge, usdt, federation, users):
    for vout, user in enumerate(users[:2]):
        deposit_access(evm, bridge, federation, bytes.fromhex(user.address[2:]), vout=vout)

    with evm.record_storage_access() as first:
        assert usdt.transact(users[0], "transfer", users[2].address, 10).success
    with evm.record_storage_access() as second:
        assert usdt.transact(users[1], "transfer", users[3].address, 10).success

    assert first.independent_of(second)
    assert len(first.writes) == len(second.writes) == 2
