"""A node running the parallel executor makes blocks that a sequential node accepts unchanged."""

import shutil

from eth_account import Account
from eth_utils import to_canonical_address

from sidechain.datadir import init_dev
from sidechain.executor.parallel import ParallelExecutor
from sidechain.importer import import_block
from sidechain.node import Node

SENDERS = 80  # above the parallel executor's small-block threshold (64)


def test_parallel_node_block_is_reproduced_by_a_sequential_follower(tmp_path):
    genesis, accounts = init_dev(tmp_path / "leader", accounts=SENDERS)
    shutil.copytree(tmp_path / "leader", tmp_path / "follower")
    leader = Node.open(tmp_path / "leader", executor_name="parallel", workers=2)
    follower = Node.open(tmp_path / "follower", executor_name="sequential")
    try:
        assert isinstance(leader.executor, ParallelExecutor)
        recipients = [Account.create().address for _ in accounts]
        for index, (account, recipient) in enumerate(zip(accounts, recipients, strict=True)):
            tx = {
                "chainId": genesis.chain_id,
                "nonce": 0,
                "to": recipient,
                "value": 1_000 + index,
                "gas": 21_000,
                "maxFeePerGas": 3 * 10**9,
                "maxPriorityFeePerGas": 10**8,
                "type": 2,
            }
            leader.send_raw_transaction(
                bytes(Account.sign_transaction(tx, account.private_key).raw_transaction)
            )
        block = leader.produce_block()
        assert len(block.transactions) == SENDERS
        assert leader.executor.runs_in_parallel(
            leader.executor.forks.vm_class_for(block.header), block.transactions
        )

        imported = import_block(follower._store, follower.chain, follower.executor, block)

        assert imported.hash == block.hash
        assert follower.block_receipts(block.hash) == leader.block_receipts(block.hash)
        for index, recipient in enumerate(recipients):
            address = to_canonical_address(recipient)
            assert follower.balance(address, block.header.block_number) == 1_000 + index
    finally:
        leader.close()
        follower.close()
