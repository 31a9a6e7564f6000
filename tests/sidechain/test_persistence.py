"""The store survives close/reopen and kill -9: same head, balances, receipts; blocks whole."""

import signal
import subprocess
import sys
import textwrap
import time

from eth_utils import to_canonical_address

from sidechain.predeploys import FEE_VAULT_ADDRESS
from tests.support.node import open_node

SINK = to_canonical_address("0x" + "11" * 20)


def test_reopened_node_has_same_head_balances_and_receipts(dev_chain, node):
    hashes = [node.send_raw_transaction(dev_chain.sign(0, nonce=n)) for n in range(3)]
    node.produce_block()
    node.send_raw_transaction(dev_chain.sign(1))
    head = node.produce_block()
    balance = node.balance(dev_chain.address(0), head.number)
    receipts = [node.receipt(h) for h in hashes]
    node.close()

    reopened = open_node(dev_chain.datadir)
    try:
        assert reopened.head() == head
        assert reopened.balance(dev_chain.address(0), head.number) == balance
        assert [reopened.receipt(h) for h in hashes] == receipts
        assert reopened.block_by_number(1).transactions[0].hash == hashes[0]
        assert reopened.nonce(dev_chain.address(0), head.number) == 3
    finally:
        reopened.close()


_PRODUCER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from eth_account import Account
    from sidechain.datadir import read_dev_accounts
    from sidechain.node import Node

    datadir = Path(sys.argv[1])
    accounts = read_dev_accounts(datadir / "dev-accounts.json")
    node = Node.open(datadir, executor_name="sequential")
    chain_id = node.chain_id
    nonce = 0
    while True:
        for account in accounts:
            tx = {"chainId": chain_id, "nonce": nonce, "to": "0x" + "11" * 20, "value": 7,
                  "gas": 21000, "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**8,
                  "type": 2}
            signed = Account.sign_transaction(tx, account.private_key)
            node.send_raw_transaction(bytes(signed.raw_transaction))
        block = node.produce_block()
        nonce += 1
        print(block.number, flush=True)
    """
)


def test_kill_9_mid_production_leaves_a_consistent_chain(dev_chain):
    process = subprocess.Popen(
        [sys.executable, "-c", _PRODUCER, str(dev_chain.datadir)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        seen = 0
        while seen < 15 and time.monotonic() < deadline:
            line = process.stdout.readline()
            assert line, "the producer exited early"
            seen = int(line)
        time.sleep(0.05)  # land the kill somewhere inside a block's production
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert seen >= 15

    node = open_node(dev_chain.datadir)
    try:
        head = node.head()
        assert head.number >= seen
        initial = sum(account.balance for account in dev_chain.genesis.accounts)
        for number in range(1, head.number + 1):
            block = node.block_by_number(number)
            assert block.header.parent_hash == node.block_by_number(number - 1).hash
            assert all(node.receipt(tx.hash).block_number == number for tx in block.transactions)
        holders = [*(dev_chain.address(i) for i in range(4)), SINK, FEE_VAULT_ADDRESS]
        assert sum(node.balance(a, head.number) for a in holders) == initial
        assert node.balance(SINK, head.number) == 7 * 4 * head.number
        node.send_raw_transaction(dev_chain.sign(0, nonce=head.number))
        assert node.produce_block().number == head.number + 1
    finally:
        node.close()
