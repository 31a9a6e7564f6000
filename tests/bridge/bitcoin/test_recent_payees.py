"""`RecentPayees` (bridge.bitcoin.rescan): a rescan skips a block only when the block is kept
and paid none of the addresses looked for."""

from bridge.bitcoin.blocks import Block, Transaction, TxOutput
from bridge.bitcoin.deposit_script import DepositScript
from bridge.bitcoin.rescan import RecentPayees
from tests.bridge.bitcoin.test_deposit_scanner import FEDERATION

P2WPKH_ADDRESS = "bcrt1qqqqsyqcyq5rqwzqfpg9scrgwpugpzysnard0ew"


def script(n: int) -> DepositScript:
    return DepositScript.create(f"0x{n:040x}", FEDERATION, 2)


def block(n: int, *paid: DepositScript) -> Block:
    outputs = tuple(
        TxOutput(i, 50_000, s.script_pubkey, s.address("regtest")) for i, s in enumerate(paid)
    )
    return Block(n, f"{n:064x}", f"{n - 1:064x}", (Transaction(f"{n:064x}", None, outputs),))


def test_only_kept_blocks_paying_none_of_the_addresses_are_skipped() -> None:
    a, b, c = script(1), script(2), script(3)
    payees = RecentPayees(size=2)
    for kept in (block(1, a), block(2, b), block(3, c)):  # block 1 falls out
        payees.note(kept)
    hashes = [block(n).hash for n in (1, 2, 3, 4)]
    looked_for = [b.address("regtest")]
    assert payees.to_read(hashes, looked_for) == [hashes[0], hashes[1], hashes[3]]
    assert payees.to_read(hashes, [a.address("regtest")]) == [hashes[0], hashes[3]]


def test_every_block_is_read_for_an_address_that_is_not_p2wsh() -> None:
    """Only P2WSH payments are noted (every deposit address is one): anything else is read."""
    payees = RecentPayees(size=4)
    payees.note(block(1, script(1)))
    hashes = [block(1).hash]
    assert payees.to_read(hashes, [script(2).address("regtest")]) == []
    assert payees.to_read(hashes, [script(2).address("regtest"), P2WPKH_ADDRESS]) == hashes
