"""Every benchmark workload builds a valid block whose transactions all succeed."""

import pytest

from sidechain.executor.sequential import SequentialExecutor
from sidechain.executor.workloads import (
    HOT_ADDRESS,
    WORKLOADS,
    block_gas_limit,
    workload_block,
)
from sidechain.system_tx import DepositTransaction, deposit_gas

_COUNT = 12


@pytest.mark.parametrize("workload", WORKLOADS)
def test_workload_block_executes_with_every_receipt_successful(workload: str) -> None:
    with workload_block(workload, _COUNT) as block:
        result = SequentialExecutor(block.chain_id).execute_block(
            block.pre_state, block.header, block.txs
        )
    assert len(result.results) == _COUNT
    assert [r.receipt.state_root for r in result.results] == [b"\x01"] * _COUNT
    assert result.gas_used <= block.header.gas_limit


def test_block_gas_limit_fits_two_thousand_deposits() -> None:
    with workload_block("deposits", 2) as block:
        assert all(isinstance(tx, DepositTransaction) for tx in block.txs)
        assert block.header.gas_limit == block_gas_limit(2)
    assert block_gas_limit(2000) >= 2000 * deposit_gas(2)


def test_hot_workload_sends_every_tenth_transaction_to_one_account() -> None:
    with workload_block("hot", 20) as block:
        hot = [i for i, tx in enumerate(block.txs) if tx.to == HOT_ADDRESS]
    assert hot == [0, 10]


def test_chain_workload_is_one_sender_with_consecutive_nonces() -> None:
    with workload_block("chain", 5) as block:
        assert {tx.sender for tx in block.txs} == {block.txs[0].sender}
        assert [tx.nonce for tx in block.txs] == [0, 1, 2, 3, 4]
