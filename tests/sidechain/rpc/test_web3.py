"""Unmodified web3.py over HTTP against a running node: what a dapp developer does first."""

import pytest
import vyper
from eth_account import Account
from web3 import Web3
from web3.exceptions import ContractLogicError, Web3RPCError

from sidechain.rpc.eth import client_version

STORE_SOURCE = """
# pragma version ^0.4.0
event Stored:
    who: indexed(address)
    value: uint256

value: public(uint256)

@deploy
def __init__(initial: uint256):
    self.value = initial

@external
def store(new_value: uint256):
    assert new_value != 13, "unlucky number"
    self.value = new_value
    log Stored(who=msg.sender, value=new_value)
"""
RECEIPT_TIMEOUT = 30


@pytest.fixture(scope="module")
def compiled() -> dict:
    return vyper.compile_code(STORE_SOURCE, output_formats=["abi", "bytecode"])


def _send(w3: Web3, account, tx: dict) -> dict:
    """Sign with eth-account, send raw, wait for the receipt."""
    signed = account.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT)


@pytest.fixture
def store(w3: Web3, accounts, compiled):
    """A fresh contract per test (value 5), so no test depends on another's writes."""
    deployer = accounts[0]
    factory = w3.eth.contract(abi=compiled["abi"], bytecode=compiled["bytecode"])
    tx = factory.constructor(5).build_transaction(
        {"from": deployer.address, "nonce": w3.eth.get_transaction_count(deployer.address)}
    )
    receipt = _send(w3, deployer, tx)
    assert receipt.status == 1
    return w3.eth.contract(address=receipt.contractAddress, abi=compiled["abi"])


def test_chain_id_and_client_identity(w3: Web3):
    assert w3.eth.chain_id == 5151
    assert w3.net.version == "5151"
    assert w3.client_version == client_version()
    assert w3.is_connected()


def test_deployed_contract_has_code_and_its_initial_value(w3: Web3, store):
    assert len(w3.eth.get_code(store.address)) > 0
    assert store.functions.value().call() == 5
    assert int.from_bytes(w3.eth.get_storage_at(store.address, 0), "big") == 5


def test_legacy_transfer_is_mined_with_its_gas_price(w3: Web3, accounts):
    sender, recipient = accounts[1], accounts[2]
    before = w3.eth.get_balance(recipient.address)
    gas_price = w3.eth.gas_price
    tx = {
        "to": recipient.address,
        "value": 12345,
        "gas": 21000,
        "gasPrice": gas_price,
        "nonce": w3.eth.get_transaction_count(sender.address),
        "chainId": w3.eth.chain_id,
    }
    receipt = _send(w3, sender, tx)
    assert receipt.status == 1
    assert receipt.type == 0
    assert receipt.gasUsed == 21000
    assert receipt.effectiveGasPrice == gas_price
    assert w3.eth.get_balance(recipient.address) == before + 12345
    mined = w3.eth.get_transaction(receipt.transactionHash)
    assert mined.blockNumber == receipt.blockNumber
    assert mined["from"] == sender.address
    assert mined.gasPrice == gas_price


def test_eip1559_transfer_pays_base_fee_plus_tip(w3: Web3, accounts):
    sender, recipient = accounts[3], accounts[4]
    sender_before = w3.eth.get_balance(sender.address)
    tip = w3.eth.max_priority_fee
    tx = {
        "type": 2,
        "to": recipient.address,
        "value": 10**15,
        "gas": 21000,
        "maxFeePerGas": w3.eth.get_block("latest").baseFeePerGas * 2 + tip,
        "maxPriorityFeePerGas": tip,
        "nonce": w3.eth.get_transaction_count(sender.address),
        "chainId": w3.eth.chain_id,
    }
    receipt = _send(w3, sender, tx)
    block = w3.eth.get_block(receipt.blockNumber, full_transactions=True)
    assert receipt.type == 2
    assert receipt.effectiveGasPrice == block.baseFeePerGas + tip
    assert w3.eth.get_balance(sender.address) == sender_before - 10**15 - 21000 * (
        block.baseFeePerGas + tip
    )
    assert [t.hash for t in block.transactions] == [receipt.transactionHash]
    assert block.transactions[0].maxPriorityFeePerGas == tip
    assert w3.eth.get_block(block.hash).number == block.number


def test_contract_transaction_emits_a_log_seen_by_filters_and_get_logs(w3: Web3, accounts, store):
    caller = accounts[5]
    event_filter = store.events.Stored.create_filter(from_block="latest")
    block_filter = w3.eth.filter("latest")
    tx = store.functions.store(42).build_transaction(
        {"from": caller.address, "nonce": w3.eth.get_transaction_count(caller.address)}
    )
    receipt = _send(w3, caller, tx)
    assert store.functions.value().call() == 42

    (entry,) = event_filter.get_new_entries()
    assert entry.args.who == caller.address
    assert entry.args.value == 42
    assert entry.transactionHash == receipt.transactionHash
    assert event_filter.get_new_entries() == []
    assert [e.args.value for e in event_filter.get_all_entries()] == [42]
    assert receipt.blockHash in block_filter.get_new_entries()

    (logged,) = store.events.Stored.get_logs(
        from_block=receipt.blockNumber, argument_filters={"who": caller.address}
    )
    assert logged.logIndex == receipt.logs[0].logIndex
    others = store.events.Stored.get_logs(
        from_block=0, argument_filters={"who": accounts[6].address}
    )
    assert list(others) == []
    assert w3.eth.uninstall_filter(event_filter.filter_id) is True


def test_call_and_estimate_gas_agree_with_execution(w3: Web3, accounts, store):
    caller = accounts[5]
    estimate = store.functions.store(7).estimate_gas({"from": caller.address})
    tx = store.functions.store(7).build_transaction(
        {
            "from": caller.address,
            "gas": estimate,
            "nonce": w3.eth.get_transaction_count(caller.address),
        }
    )
    receipt = _send(w3, caller, tx)
    assert receipt.status == 1
    assert receipt.gasUsed <= estimate
    assert store.functions.value().call(block_identifier=receipt.blockNumber) == 7
    assert store.functions.value().call(block_identifier=receipt.blockNumber - 1) == 5
    assert w3.eth.get_code(store.address, block_identifier="earliest") == b""


def test_revert_reason_is_a_contract_logic_error(w3: Web3, accounts, store):
    caller = accounts[5]
    with pytest.raises(ContractLogicError, match="execution reverted: unlucky number"):
        store.functions.store(13).call({"from": caller.address})
    with pytest.raises(ContractLogicError, match="execution reverted: unlucky number"):
        store.functions.store(13).estimate_gas({"from": caller.address})


def test_estimate_gas_from_an_unfunded_sender_is_geths_insufficient_funds_error(w3: Web3):
    """A value the sender cannot pay: the JSON-RPC error geth gives (-32000, its wording)."""
    unfunded = Account.create().address
    for price in ({}, {"gasPrice": w3.eth.gas_price}):
        with pytest.raises(Web3RPCError) as raised:
            w3.eth.estimate_gas({"from": unfunded, "to": "0x" + "11" * 20, "value": 1, **price})
        error = raised.value.rpc_response["error"]
        assert error["code"] == -32000
        assert error["message"].startswith("insufficient funds for gas * price + value")
        assert f"address {unfunded.lower()} have 0" in error["message"]


def test_estimate_gas_stops_at_what_the_sender_can_pay_for(w3: Web3, accounts):
    """With a gas price, the search's top is the sender's balance over the price (geth)."""
    poor = Account.create()
    price = w3.eth.gas_price
    funder = accounts[7]
    fund = {
        "to": poor.address,
        "value": 30_000 * price,
        "gas": 21_000,
        "gasPrice": price,
        "nonce": w3.eth.get_transaction_count(funder.address),
        "chainId": w3.eth.chain_id,
    }
    assert _send(w3, funder, fund).status == 1
    transfer = {"from": poor.address, "to": "0x" + "11" * 20, "gasPrice": price}
    assert w3.eth.estimate_gas({**transfer, "value": 1}) == 21_000
    with pytest.raises(Web3RPCError, match="insufficient funds for gas"):
        w3.eth.estimate_gas({**transfer, "value": 10_000 * price})  # 20,000 gas left: too few


def test_batch_requests_answer_in_order(w3: Web3, accounts):
    with w3.batch_requests() as batch:
        batch.add(w3.eth.get_block_number())
        batch.add(w3.eth.get_balance(accounts[0].address))
        batch.add(w3.eth.get_block("earliest"))
        number, balance, genesis = batch.execute()
    assert number == w3.eth.block_number
    assert balance == w3.eth.get_balance(accounts[0].address)
    assert genesis.number == 0


def test_fee_history_covers_the_requested_blocks(w3: Web3):
    head = w3.eth.block_number  # the node keeps producing blocks: ask for a fixed one
    history = w3.eth.fee_history(2, head, [50])
    assert history.oldestBlock == head - 1
    assert len(history.baseFeePerGas) == 3
    assert len(history.reward) == 2
