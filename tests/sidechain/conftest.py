"""Fixtures for sidechain node tests: a fresh dev chain per test and transaction helpers."""

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_abi import encode
from eth_account import Account
from eth_typing import Address
from eth_utils import keccak, to_canonical_address

from sidechain.datadir import init_dev
from sidechain.genesis import DevAccount, Genesis
from tests.support.node import open_node


@dataclass(frozen=True)
class DevChain:
    datadir: Path
    genesis: Genesis
    accounts: list[DevAccount]
    federation: list[DevAccount]

    def address(self, index: int) -> Address:
        return Address(to_canonical_address(self.accounts[index].address))

    def sign(self, index: int, **fields: object) -> bytes:
        """A signed EIP-1559 transfer from account `index`, with `fields` overriding defaults."""
        tx = {
            "chainId": self.genesis.chain_id,
            "nonce": 0,
            "to": "0x" + "11" * 20,
            "value": 1,
            "gas": 21_000,
            "maxFeePerGas": 3 * 10**9,
            "maxPriorityFeePerGas": 10**8,
            "type": 2,
        }
        tx.update(fields)
        if "gasPrice" in fields:
            del tx["maxFeePerGas"], tx["maxPriorityFeePerGas"], tx["type"]
        signed = Account.sign_transaction(tx, self.accounts[index].private_key)
        return bytes(signed.raw_transaction)


@pytest.fixture
def dev_chain(tmp_path: Path) -> DevChain:
    genesis, accounts = init_dev(tmp_path / "node", accounts=4)
    federation = [
        DevAccount(**entry)
        for entry in json.loads((tmp_path / "node" / "dev-federation.json").read_text())
    ]
    return DevChain(tmp_path / "node", genesis, accounts, federation)


@pytest.fixture
def node(dev_chain: DevChain):
    opened = open_node(dev_chain.datadir)
    yield opened
    opened.close()


def calldata(signature: str, types: list[str], values: list[object]) -> bytes:
    return keccak(text=signature)[:4] + encode(types, values)


@pytest.fixture
def abi_call():
    return calldata
