"""The sequential executor replays other forks' blocks, made by py-evm's own mining chain.

py-evm's `MiningChain` (its `Chain.apply_transaction` path, independent of our executor) mines
two blocks per fork: a value transfer, a contract creation that stores a value and, from
Shanghai on, withdrawals. The blocks are exported in BlockchainTests form and replayed through
`sluice replay`'s code: block rewards (before Paris), fee burning and tips, pre-Byzantium
receipts with intermediate state roots and withdrawals must all come out the same.
"""

import json
from pathlib import Path
from typing import Any

import pytest
from eth.abc import VirtualMachineAPI
from eth.chains.base import MiningChain
from eth.db.atomic import AtomicDB
from eth.tools.builder.chain import build, chain_id, disable_pow_check, fork_at, genesis
from eth.vm.forks import (
    ByzantiumVM,
    CancunVM,
    FrontierVM,
    IstanbulVM,
    LondonVM,
    ParisVM,
    PragueVM,
    ShanghaiVM,
    SpuriousDragonVM,
)
from eth.vm.forks.prague.constants import (
    CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS,
    WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS,
)
from eth.vm.forks.shanghai.withdrawals import Withdrawal
from eth_keys import keys
from eth_utils import encode_hex

from sidechain.executor.fixtures import block_rlp_of, header_json
from sidechain.executor.replay import load_tests, run_test

_KEY = keys.PrivateKey(b"\x01" * 32)
_SENDER = _KEY.public_key.to_canonical_address()
_RECEIVER = b"\x22" * 20
_COINBASE = b"\x33" * 20
# init code: SSTORE(0, 7), then deploy an empty runtime
_INIT_CODE = bytes.fromhex("600760005500")
_STOP = b"\x00"
_REQUEST_CONTRACTS = (WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS, CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS)
_FORKS = {
    "Frontier": FrontierVM,
    "EIP158": SpuriousDragonVM,
    "Byzantium": ByzantiumVM,
    "Istanbul": IstanbulVM,
    "London": LondonVM,
    "Paris": ParisVM,
    "Shanghai": ShanghaiVM,
    "Cancun": CancunVM,
    "Prague": PragueVM,
}


def _mined_fixture(
    network: str, vm_class: type[VirtualMachineAPI], request_contracts: bool = True
) -> dict[str, Any]:
    merged = issubclass(vm_class, ParisVM)
    params: dict[str, Any] = {
        "difficulty": 0 if merged else 131_072,
        "timestamp": 1_000,
        "gas_limit": 30_000_000,
    }
    if merged:
        params["nonce"] = b"\x00" * 8
    state: dict[bytes, dict[str, Any]] = {_SENDER: {"balance": 10**20}}
    if request_contracts and issubclass(vm_class, PragueVM):  # they report no requests
        state.update({address: {"code": _STOP, "nonce": 1} for address in _REQUEST_CONTRACTS})
    chain = build(
        MiningChain,
        fork_at(vm_class, 0),
        disable_pow_check(),
        chain_id(1),
        genesis(db=AtomicDB(), params=params, state=state),
    )
    pre = {
        encode_hex(address): {
            "balance": hex(account.get("balance", 0)),
            "nonce": hex(account.get("nonce", 0)),
            "code": encode_hex(account.get("code", b"")),
            "storage": {},
        }
        for address, account in state.items()
    }
    blocks = []
    withdraws = "withdrawals" in vm_class.get_block_class()._meta.field_names
    for number in (1, 2):
        vm = chain.get_vm()
        nonce = 2 * (number - 1)
        txs = [
            vm.create_unsigned_transaction(
                nonce=nonce, gas_price=10**10, gas=21_000, to=_RECEIVER, value=number, data=b""
            ).as_signed_transaction(_KEY),
            vm.create_unsigned_transaction(
                nonce=nonce + 1, gas_price=10**10, gas=100_000, to=b"", value=0, data=_INIT_CODE
            ).as_signed_transaction(_KEY),
        ]
        extra = {"withdrawals": [Withdrawal(number, 5, _RECEIVER, 10**9)]} if withdraws else {}
        # the timestamp is py-evm's (a custom one would not recompute the difficulty)
        result, _, _ = chain.mine_all(txs, coinbase=_COINBASE, **extra)
        block = result.imported_block
        blocks.append(
            {"rlp": encode_hex(block_rlp_of(block)), "blockHeader": header_json(block.header)}
        )
    head = chain.get_canonical_head()
    first = chain.get_canonical_block_by_number(0)
    return {
        "network": network,
        "sealEngine": "NoProof",
        "genesisBlockHeader": header_json(first.header),
        "genesisRLP": encode_hex(block_rlp_of(first)),
        "pre": pre,
        "blocks": blocks,
        "postStateHash": encode_hex(head.state_root),
        "lastblockhash": encode_hex(head.hash),
    }


@pytest.mark.parametrize("network", sorted(_FORKS))
def test_blocks_mined_by_pyevm_replay_through_the_sequential_executor(
    network: str, tmp_path: Path
) -> None:
    path = tmp_path / f"{network}.json"
    path.write_text(json.dumps({f"mined_{network}": _mined_fixture(network, _FORKS[network])}))
    outcome = run_test(load_tests(path)[0], "sequential")
    assert outcome.passed, outcome.detail


def test_prague_block_without_the_request_contracts_is_rejected(tmp_path: Path) -> None:
    """py-evm mines it (it skips a missing request contract); Ethereum's rules (EIP-7002,
    EIP-7251) make the block invalid, and replay says why."""
    path = tmp_path / "no_requests.json"
    fixture = _mined_fixture("Prague", PragueVM, request_contracts=False)
    path.write_text(json.dumps({"mined_Prague_without_request_contracts": fixture}))
    outcome = run_test(load_tests(path)[0], "sequential")
    assert not outcome.passed
    assert "block 0 rejected: invalid block: request contract" in outcome.detail
    assert "has no code" in outcome.detail
