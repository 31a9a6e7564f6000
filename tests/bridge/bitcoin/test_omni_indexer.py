"""The Omni indexer's rules on synthetic blocks: sender, reference, validity, undo."""

import itertools

import pytest

from bridge.bitcoin.blocks import Block, Transaction, TxOutput
from bridge.bitcoin.chain import BlockRef, ReorgTooDeep
from bridge.bitcoin.omni.indexer import InvalidReason, OmniIndexer
from bridge.bitcoin.omni.payload import (
    CreateManagedProperty,
    GrantTokens,
    OmniMessage,
    SimpleSend,
    op_return_script,
)
from bridge.bitcoin.omni.rules import reference_output

ISSUER, ALICE, BOB, CAROL = "bcrt1issuer", "bcrt1alice", "bcrt1bob", "bcrt1carol"
_txids = (f"{n:064x}" for n in itertools.count(1))


def out(index: int, address: str | None, value: int = 546, script: bytes = b"\x51") -> TxOutput:
    return TxOutput(index, value, script, address)


def omni_tx(sender: str | None, message: OmniMessage, *receivers: str | None) -> Transaction:
    """OP_RETURN first, then one output per receiver (None: no address), in order."""
    outputs = [out(0, None, 0, op_return_script(message))]
    outputs += [out(n, address) for n, address in enumerate(receivers, start=1)]
    return Transaction(next(_txids), sender, tuple(outputs))


class Chain:
    """Blocks built on top of each other, applied to an indexer."""

    def __init__(self) -> None:
        self.indexer = OmniIndexer(start_height=1)
        self.hashes = ["00" * 32]

    def block(self, *txs: Transaction, fork_from: int | None = None):
        if fork_from is not None:
            self.indexer.unwind(fork_from)
            del self.hashes[fork_from + 1 :]
        height = len(self.hashes)
        block_hash = f"{height:02x}{len(txs):02x}" + next(_txids)[4:]
        self.hashes.append(block_hash)
        return self.indexer.index_block(Block(height, block_hash, self.hashes[-2], txs))


@pytest.fixture
def usdt() -> tuple[Chain, int]:
    """A chain where ISSUER created property 3 and holds 1,000 units of it."""
    chain = Chain()
    (created,) = chain.block(omni_tx(ISSUER, CreateManagedProperty("USDT"), ISSUER))
    chain.block(omni_tx(ISSUER, GrantTokens(created.property_id, 1000), ISSUER))
    return chain, created.property_id


def test_first_managed_property_in_main_ecosystem_is_3_and_test_ecosystem_2147483651():
    chain = Chain()
    main, test, main2 = chain.block(
        omni_tx(ISSUER, CreateManagedProperty("A")),
        omni_tx(ISSUER, CreateManagedProperty("B", ecosystem=2)),
        omni_tx(ALICE, CreateManagedProperty("C")),
    )
    assert (main.property_id, test.property_id, main2.property_id) == (3, 2147483651, 4)
    assert chain.indexer.properties[4].issuer == ALICE


def test_send_moves_balance_from_first_input_address_to_reference(usdt):
    chain, pid = usdt
    (result,) = chain.block(omni_tx(ISSUER, SimpleSend(pid, 300), ALICE, ISSUER))
    assert result.valid and result.sender == ISSUER and result.reference.address == ALICE
    assert chain.indexer.balance(ISSUER, pid) == 700
    assert chain.indexer.balance(ALICE, pid) == 300


def test_sender_is_the_first_input_even_if_others_hold_tokens(usdt):
    chain, pid = usdt
    (result,) = chain.block(omni_tx(ALICE, SimpleSend(pid, 1), BOB))
    assert result.invalid_reason is InvalidReason.INSUFFICIENT_BALANCE
    assert chain.indexer.balance(ISSUER, pid) == 1000


def test_overspend_is_invalid_and_touches_no_balance(usdt):
    chain, pid = usdt
    (result,) = chain.block(omni_tx(ISSUER, SimpleSend(pid, 1001), ALICE))
    assert result.invalid_reason is InvalidReason.INSUFFICIENT_BALANCE
    assert chain.indexer.balance(ISSUER, pid) == 1000
    assert chain.indexer.balance(ALICE, pid) == 0


def test_send_of_unknown_property_is_invalid(usdt):
    chain, _ = usdt
    (result,) = chain.block(omni_tx(ISSUER, SimpleSend(99, 1), ALICE))
    assert result.invalid_reason is InvalidReason.UNKNOWN_PROPERTY
    assert chain.indexer.balance(ALICE, 99) == 0


def test_grant_by_someone_other_than_the_issuer_is_invalid(usdt):
    chain, pid = usdt
    (result,) = chain.block(omni_tx(ALICE, GrantTokens(pid, 50), ALICE))
    assert result.invalid_reason is InvalidReason.NOT_ISSUER
    assert chain.indexer.balance(ALICE, pid) == 0
    assert chain.indexer.supply[pid] == 1000


def test_grant_goes_to_the_reference_address_when_there_is_one(usdt):
    chain, pid = usdt
    (result,) = chain.block(omni_tx(ISSUER, GrantTokens(pid, 5), BOB, ISSUER))
    assert result.valid
    assert chain.indexer.balance(BOB, pid) == 5
    assert chain.indexer.supply[pid] == 1005


def test_malformed_payload_is_invalid():
    chain = Chain()
    bad = Transaction("ab" * 32, ALICE, (out(0, None, 0, bytes.fromhex("6a066f6d6e690000")),))
    (result,) = chain.block(bad)
    assert result.invalid_reason is InvalidReason.MALFORMED


def test_coinbase_like_tx_without_sender_is_invalid(usdt):
    chain, pid = usdt
    (result,) = chain.block(omni_tx(None, SimpleSend(pid, 1), ALICE))
    assert result.invalid_reason is InvalidReason.NO_SENDER


def test_transactions_without_omni_payload_are_ignored():
    chain = Chain()
    plain = Transaction("cd" * 32, ALICE, (out(0, BOB, 10_000),))
    assert chain.block(plain) == []


@pytest.mark.parametrize(
    ("receivers", "expected"),
    [
        ((ALICE,), 1),  # the only non-sender output
        ((ALICE, ISSUER), 1),  # change to the sender at the end
        ((ISSUER, ALICE), 2),  # change to the sender first
        ((ISSUER, ISSUER), 2),  # to itself: the first sender output is change
        ((ALICE, BOB), 2),  # several others: the highest index
        ((ALICE, BOB, ISSUER), 2),  # the sender's change dropped, highest left is BOB
        ((ISSUER,), None),  # only change: nobody receives
        ((), None),
        ((None, ALICE), 2),  # outputs without an address are never the reference
    ],
)
def test_reference_rule(receivers, expected):
    tx = omni_tx(ISSUER, SimpleSend(3, 1), *receivers)
    reference = reference_output(tx)
    assert (None if reference is None else reference.index) == expected


def test_send_without_reference_is_invalid(usdt):
    chain, pid = usdt
    (result,) = chain.block(omni_tx(ISSUER, SimpleSend(pid, 1), ISSUER))
    assert result.invalid_reason is InvalidReason.NO_REFERENCE
    assert chain.indexer.balance(ISSUER, pid) == 1000


def test_unwind_restores_balances_properties_and_supply(usdt):
    chain, pid = usdt
    state = chain.indexer
    before = (dict(state.balances), dict(state.properties), dict(state.supply))
    fork = chain.indexer.checkpoint().height
    chain.block(omni_tx(ISSUER, SimpleSend(pid, 400), ALICE))
    chain.block(
        omni_tx(ISSUER, GrantTokens(pid, 10), ISSUER),
        omni_tx(BOB, CreateManagedProperty("Other")),
        omni_tx(ALICE, SimpleSend(pid, 100), BOB),
    )
    assert chain.indexer.balance(BOB, pid) == 100
    chain.indexer.unwind(fork)
    after = (chain.indexer.balances, chain.indexer.properties, chain.indexer.supply)
    assert after == before
    assert chain.indexer.checkpoint().height == fork


def test_same_send_on_the_other_branch_is_judged_again(usdt):
    chain, pid = usdt
    fork = chain.indexer.checkpoint().height
    spend = omni_tx(ISSUER, SimpleSend(pid, 900), ALICE)
    chain.block(spend)
    # The other branch first spends 200 elsewhere: the same 900 send is now an overspend.
    chain.block(omni_tx(ISSUER, SimpleSend(pid, 200), BOB), fork_from=fork)
    (again,) = chain.block(spend)
    assert again.invalid_reason is InvalidReason.INSUFFICIENT_BALANCE
    assert chain.indexer.balance(ALICE, pid) == 0


def test_hash_at_covers_blocks_with_undo_data_and_the_parent_of_the_oldest():
    indexer = OmniIndexer(start_height=1, undo_depth=2)
    for height in (1, 2, 3, 4):
        indexer.index_block(Block(height, f"{height:064x}", f"{height - 1:064x}", ()))
    assert [indexer.hash_at(h) for h in (1, 2, 3, 4, 5)] == [
        None,
        f"{2:064x}",
        f"{3:064x}",
        f"{4:064x}",
        None,
    ]


def test_unwinding_to_the_parent_of_the_oldest_kept_block_keeps_a_checkpoint():
    indexer = OmniIndexer(start_height=1, undo_depth=2)
    for height in (1, 2, 3, 4):
        indexer.index_block(Block(height, f"{height:064x}", f"{height - 1:064x}", ()))
    indexer.unwind(2)
    assert indexer.checkpoint() == BlockRef(2, f"{2:064x}")
    with pytest.raises(ReorgTooDeep):
        indexer.unwind(1)
    assert indexer.checkpoint() == BlockRef(2, f"{2:064x}")


def test_unwinding_everything_from_the_start_empties_the_checkpoint(usdt):
    chain, _ = usdt
    chain.indexer.unwind(0)
    assert chain.indexer.checkpoint() is None
    assert chain.indexer.balances == {} and chain.indexer.properties == {}
