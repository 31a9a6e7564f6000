"""The sequential executor equals py-evm's own Chain import, and checks what it imports."""

import pytest
import vyper
from eth._utils.address import generate_contract_address
from eth.chains.base import MiningChain
from eth.db.atomic import AtomicDB
from eth.db.backends.memory import MemoryDB
from eth_account import Account
from eth_utils import keccak, to_canonical_address, to_checksum_address

from sidechain.errors import HeaderMismatch, InvalidTransaction
from sidechain.executor.abc import PreState
from sidechain.executor.header import next_header, seal_header, verify_header
from sidechain.executor.sequential import SequentialExecutor
from sidechain.genesis import build_genesis, dev_genesis
from sidechain.predeploys import FEE_VAULT_ADDRESS
from sidechain.vm import SluiceBlock, SluiceTransactionBuilder, SluiceVM

COUNTER = """
counter: public(uint256)
scratch: transient(uint256)

event Bumped:
    by: indexed(address)
    value: uint256

@external
def bump(x: uint256):
    assert x != 13, "unlucky"
    self.scratch += x
    self.counter += self.scratch
    log Bumped(by=msg.sender, value=x)
"""


@pytest.fixture(scope="module")
def world():
    genesis, funded, _ = dev_genesis(accounts=3)
    return genesis, funded, build_genesis(genesis)


def _sign(genesis, account, **fields):
    tx = {
        "chainId": genesis.chain_id, "nonce": 0, "to": "0x" + "11" * 20, "value": 1,
        "gas": 21_000, "maxFeePerGas": 3 * 10**9, "maxPriorityFeePerGas": 10**8, "type": 2,
    }  # fmt: skip
    tx.update(fields)
    if "gasPrice" in fields:
        del tx["maxFeePerGas"], tx["maxPriorityFeePerGas"], tx["type"]
    raw = Account.sign_transaction(tx, account.private_key).raw_transaction
    return SluiceTransactionBuilder.decode(bytes(raw))


def _block_txs(genesis, funded):
    init = vyper.compile_code(COUNTER, output_formats=["bytecode"])["bytecode"]
    deployer = Account.from_key(funded[0].private_key)
    contract = to_checksum_address(
        generate_contract_address(to_canonical_address(deployer.address), 0)
    )
    bump = keccak(text="bump(uint256)")[:4]
    return (
        _sign(genesis, funded[0], to="", data=bytes.fromhex(init[2:]), gas=500_000, value=0),
        _sign(genesis, funded[0], nonce=1, to=contract, data=bump + (5).to_bytes(32, "big"),
              gas=100_000, value=0),
        _sign(genesis, funded[1], to=contract, data=bump + (13).to_bytes(32, "big"),
              gas=100_000, value=0),  # reverts
        _sign(genesis, funded[1], nonce=1, to=contract, data=bump + (1).to_bytes(32, "big"),
              gas=22_500, value=0),  # out of gas
        _sign(genesis, funded[2], gasPrice=2 * 10**9, value=10**18),
        _sign(genesis, funded[2], nonce=1, maxPriorityFeePerGas=10**9),
    )  # fmt: skip


def _execute(world, txs):
    genesis, _, block0 = world
    pre = PreState(MemoryDB(dict(block0.state_writes)), block0.header.state_root,
                   (block0.header.hash,))  # fmt: skip
    template = next_header(block0.header, block0.header.timestamp + 2)
    result = SequentialExecutor(genesis.chain_id).execute_block(pre, template, txs)
    return template, result


def test_block_equals_py_evm_chain_import(world):
    genesis, funded, block0 = world
    txs = _block_txs(genesis, funded)
    template, result = _execute(world, txs)
    header = seal_header(template, result)

    chain_class = MiningChain.configure(
        vm_configuration=((0, SluiceVM),), chain_id=genesis.chain_id
    )
    chain = chain_class.from_genesis_header(AtomicDB(MemoryDB(dict(block0.state_writes))),
                                            block0.header)  # fmt: skip
    imported = chain.import_block(SluiceBlock(header, transactions=txs, uncles=[], withdrawals=[]))
    assert imported.imported_block.header == header  # state root, receipts root, bloom, gas
    evm_receipts = imported.imported_block.get_receipts(chain.chaindb)
    assert tuple(evm_receipts) == result.receipts
    statuses = [r.state_root for r in result.receipts]
    assert statuses == [b"\x01", b"\x01", b"", b"", b"\x01", b"\x01"]
    assert result.results[2].error.startswith("Revert")
    assert result.results[0].contract_address is not None
    state = chain.get_vm().state
    assert state.get_balance(FEE_VAULT_ADDRESS) == result.fees > 0


def test_fees_are_credited_to_the_vault_not_burned(world):
    genesis, funded, _ = world
    txs = (_sign(genesis, funded[0]),)
    template, result = _execute(world, txs)
    price = min(3 * 10**9, 10**8 + template.base_fee_per_gas)
    assert result.fees == 21_000 * price
    assert result.results[0].fee == result.fees


def test_bad_nonce_makes_the_block_invalid(world):
    genesis, funded, _ = world
    with pytest.raises(InvalidTransaction) as error:
        _execute(world, (_sign(genesis, funded[0], nonce=5),))
    assert "nonce" in error.value.reason.lower()


def test_block_gas_limit_is_enforced(world):
    genesis, funded, _ = world
    big = _sign(genesis, funded[0], gas=genesis.gas_limit)
    with pytest.raises(InvalidTransaction):
        _execute(world, (_sign(genesis, funded[1]), big))


def test_wrong_chain_id_makes_the_block_invalid(world):
    genesis, funded, _ = world
    with pytest.raises(InvalidTransaction):
        _execute(world, (_sign(genesis, funded[0], chainId=1),))


def test_imported_header_must_match_execution(world):
    genesis, funded, _ = world
    template, result = _execute(world, (_sign(genesis, funded[0]),))
    header = seal_header(template, result)
    verify_header(header, result)
    for field, value in (
        ("state_root", b"\x00" * 32),
        ("gas_used", 1),
        ("receipt_root", b"\x00" * 32),
        ("bloom", 1),
        ("transaction_root", b"\x00" * 32),
    ):
        with pytest.raises(HeaderMismatch) as error:
            verify_header(header.copy(**{field: value}), result)
        assert error.value.field == field


def test_executor_writes_nothing_to_its_pre_state(world):
    genesis, funded, block0 = world
    db = MemoryDB(dict(block0.state_writes))
    before = dict(db.kv_store)
    pre = PreState(db, block0.header.state_root, (block0.header.hash,))
    template = next_header(block0.header, block0.header.timestamp + 2)
    result = SequentialExecutor(genesis.chain_id).execute_block(
        pre, template, (_sign(genesis, funded[0]),)
    )
    assert db.kv_store == before
    assert result.state_writes
