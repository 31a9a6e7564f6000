"""A block made by another node is imported only if execution reproduces its header."""

import os
import shutil

import pytest
from eth_utils import to_canonical_address

from sidechain.attestation import Attestation, sign_attestation
from sidechain.errors import HeaderMismatch
from sidechain.importer import import_block
from sidechain.predeploys import BRIDGE_ADDRESS
from sidechain.views import StoredBlock
from tests.support.node import open_node


@pytest.fixture
def follower(dev_chain, tmp_path):
    """A second node with the same genesis (a copy of the data directory before any block)."""
    shutil.copytree(dev_chain.datadir, tmp_path / "follower")
    node = open_node(tmp_path / "follower")
    yield node
    node.close()


def _produce_with_deposit(dev_chain, node):
    node.send_raw_transaction(dev_chain.sign(0))
    attestation = Attestation(os.urandom(32), 0, 0, 1000, to_canonical_address("0x" + "42" * 20))
    for member in dev_chain.federation[:2]:
        signature = sign_attestation(
            attestation, member.private_key, dev_chain.genesis.chain_id, BRIDGE_ADDRESS
        )
        node.submit_attestation(attestation, signature)
    return node.produce_block()


def _import(node, block):
    return import_block(node._store, node.chain, node.executor, block)


def test_follower_imports_our_block_and_reaches_the_same_state(dev_chain, node, follower):
    block = _produce_with_deposit(dev_chain, node)
    imported = _import(follower, block)
    assert imported.hash == block.hash
    assert follower.head().header.state_root == node.head().header.state_root
    assert follower.block_receipts(block.hash) == node.block_receipts(block.hash)


@pytest.mark.parametrize(
    "field, value",
    [
        ("state_root", b"\x01" * 32),
        ("gas_used", 1),
        ("receipt_root", b"\x01" * 32),
        ("bloom", 1),
        ("base_fee_per_gas", 1),
    ],
)
def test_block_with_a_false_header_field_is_refused(dev_chain, node, follower, field, value):
    block = _produce_with_deposit(dev_chain, node)
    forged = StoredBlock(block.header.copy(**{field: value}), block.transactions)
    with pytest.raises(HeaderMismatch) as error:
        _import(follower, forged)
    assert error.value.field == field
    assert follower.head().number == 0
