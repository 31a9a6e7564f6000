"""Restaking contracts on the sidechain contracts' py-evm harness: every predeploy at its fixed
address as genesis places it (the harness's short windows, RESTAKING), three federation members
registered as operators, and helpers to move the block number and fund users with USDT."""

import pytest

from restaking.deploy import RestakingAddresses
from sidechain.contracts import load_artifact
from sidechain.predeploys import BRIDGE_ADDRESS, USDT_ADDRESS
from tests.sidechain.contracts.conftest import (  # the shared harness and its fixtures
    RESTAKING,
    WEI_PER_SAT,
    Contract,
    Evm,
    Result,
    address_of,
    advance,
    block_number,
    bridge,
    court,
    evm,
    federation,
    genesis,
    predeployed,
    usdt,
    users,
)

__all__ = [
    "Result",
    "address_of",
    "advance",
    "block_number",
    "bridge",
    "court",
    "evm",
    "federation",
    "genesis",
    "predeployed",
    "usdt",
    "users",
]

ADDRESSES = RestakingAddresses()
PARAMS = RESTAKING
COMMISSION_BPS = 1_000
MAX_UINT = 2**256 - 1


def mint_usdt(evm: Evm, usdt: Contract, account: object, amount: int) -> None:
    """Credit `amount` USDT base units to `account`, as the Bridge does for a deposit."""
    data = usdt.calldata("mint", account.address, amount)
    assert evm.message_call(BRIDGE_ADDRESS, USDT_ADDRESS, data).success


def ok(result: Result) -> Result:
    assert result.success, result.revert_reason
    return result


def gas_used(evm, account, send, sent: int = 0, received: int = 0) -> int:
    """Gas of the transaction `send()` makes, from the fee the sender paid (wei moved aside)."""
    address = bytes.fromhex(account.address[2:])
    price = evm.state.base_fee + 1  # the harness's tip is 1 wei, under its fee cap
    before = evm.state.get_balance(address)
    ok(send())
    fee = before - evm.state.get_balance(address) - sent + received
    assert fee % price == 0
    return fee // price


class Restaking:
    """The predeployed restaking contracts."""

    def __init__(self, evm: Evm) -> None:
        self.evm = evm
        self.registry = Contract(evm, load_artifact("OperatorRegistry"), ADDRESSES.registry)
        vault = load_artifact("RestakingVault")
        self.btc = Contract(evm, vault, ADDRESSES.btc_vault)
        self.usdt = Contract(evm, vault, ADDRESSES.usdt_vault)
        self.court = Contract(evm, load_artifact("ChallengeCourt"), ADDRESSES.court)

    def stake_btc(self, account: object, operator: object, sats: int) -> Result:
        op = operator.address
        return self.btc.transact(account, "deposit", op, sats, value=sats * WEI_PER_SAT)

    def stake_usdt(self, account: object, operator: object, amount: int) -> Result:
        token = Contract(self.evm, load_artifact("USDT"), USDT_ADDRESS)
        ok(token.transact(account, "approve", self.usdt.address, MAX_UINT))
        return self.usdt.transact(account, "deposit", operator.address, amount)


@pytest.fixture
def operators(federation):
    """The federation members, sorted by address; each registers as an operator."""
    return federation.members


@pytest.fixture
def restaking(predeployed, operators, users) -> Restaking:
    deployed = Restaking(predeployed)
    evm = predeployed
    for index, operator in enumerate(operators):
        ok(evm.transact(users[0], address_of(operator), b"", value=10**21))
        url = f"https://operator{index}.example"
        ok(deployed.registry.transact(operator, "register", url, COMMISSION_BPS))
    return deployed


@pytest.fixture
def stakers(users):
    """Three funded accounts that stake."""
    return users[:3]


@pytest.fixture
def outsider(users):
    """A funded account that is neither a federation member nor an operator."""
    return users[3]
