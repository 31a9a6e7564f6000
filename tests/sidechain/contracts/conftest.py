"""A unit-level EVM harness: a py-evm Prague state holding every predeploy, deployed from the
committed artifacts at its fixed address by the genesis code itself (sidechain.genesis
.apply_genesis, with the harness's federation and short windows), driven by eth-account signed
transactions and by system calls from SYSTEM_ADDRESS (as the node's deposit transactions are)."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from eth.abc import ComputationAPI, StateAPI, VirtualMachineAPI
from eth.chains.base import MiningChain
from eth.db.atomic import AtomicDB
from eth.vm.forks.prague import PragueVM
from eth.vm.message import Message
from eth_abi import decode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_canonical_address, to_checksum_address
from hexbytes import HexBytes
from web3 import Web3

from lending.deploy import LendingParams
from restaking.deploy import RestakingParams
from sidechain.attestation import TypedMessage, sign_attestation
from sidechain.contracts import ContractArtifact, load_artifact
from sidechain.genesis import Genesis, RestakingGenesis, apply_genesis, create_at
from sidechain.predeploys import BRIDGE_ADDRESS, COURT_ADDRESS, SYSTEM_ADDRESS, USDT_ADDRESS

CHAIN_ID = 4242
GAS = 2_000_000
ZERO_ADDRESS = b"\x00" * 20
ERROR_SELECTOR = bytes.fromhex("08c379a0")
WEI_PER_SAT = 10**10
WITHDRAWAL_FEE_BPS = 10
# The harness's restaking settings: windows short enough to walk through in a test.
RESTAKING = RestakingParams(
    registry_delay=20,
    unbonding_blocks=100,
    claim_window=50,
    voting_blocks=10,
    min_bond_wei=10**6 * WEI_PER_SAT,
    slash_bps=5_000,
    reward_bps=1_000,
)
GOVERNANCE_KEY = b"\xc0" * 32
MAX_PRICE_AGE = 3_600
MAX_DEVIATION_BPS = 2_000


@dataclass(frozen=True)
class Result:
    """What one call or transaction did."""

    computation: ComputationAPI

    @property
    def success(self) -> bool:
        return self.computation.is_success

    @property
    def output(self) -> bytes:
        return self.computation.output

    @property
    def revert_reason(self) -> str | None:
        """The Error(string) message of a revert, None on success or a bare revert."""
        if self.success or not self.output.startswith(ERROR_SELECTOR):
            return None
        return decode(["string"], self.output[4:])[0]

    def logs(self) -> list[dict[str, Any]]:
        return [
            {
                "address": to_checksum_address(address),
                "topics": [HexBytes(topic.to_bytes(32, "big")) for topic in topics],
                "data": HexBytes(data),
                "logIndex": index,
                "transactionIndex": 0,
                "transactionHash": HexBytes(b"\x00" * 32),
                "blockHash": HexBytes(b"\x00" * 32),
                "blockNumber": 1,
            }
            for index, (address, topics, data) in enumerate(self.computation.get_log_entries())
        ]


class Evm:
    """One py-evm state: deploys, runs signed transactions, system calls and read-only calls."""

    def __init__(self, vm: VirtualMachineAPI) -> None:
        self.vm = vm
        self.state: StateAPI = vm.state

    def _context(self, origin: bytes) -> Any:
        return self.state.get_transaction_context_class()(gas_price=0, origin=origin)

    def deploy_at(self, address: bytes, init_code: bytes) -> Result:
        """Run init code as a CREATE whose new account is `address` (how genesis predeploys)."""
        return Result(create_at(self.state, address, init_code, gas=10_000_000))

    def message_call(self, sender: bytes, to: bytes, data: bytes) -> Result:
        """A fee-less call from `sender` (no nonce, no signature): the node's system transaction."""
        message = Message(
            gas=GAS, to=to, sender=sender, value=0, data=data, code=self.state.get_code(to)
        )
        computation = self.state.computation_class.apply_message(
            self.state, message, self._context(sender)
        )
        return Result(computation)

    def view(self, to: bytes, data: bytes) -> Result:
        """A read-only call whose effects are thrown away."""
        snapshot = self.state.snapshot()
        try:
            return self.message_call(ZERO_ADDRESS, to, data)
        finally:
            self.state.revert(snapshot)

    def transact(self, account: LocalAccount, to: bytes, data: bytes, value: int = 0) -> Result:
        """An EIP-1559 transaction signed by `account` with eth-account, applied to the state."""
        signed = account.sign_transaction(
            {
                "type": 2,
                "chainId": CHAIN_ID,
                "nonce": self.state.get_nonce(address_of(account)),
                "to": to_checksum_address(to),
                "value": value,
                "data": data,
                "gas": GAS,
                "maxFeePerGas": 2 * self.state.base_fee,
                "maxPriorityFeePerGas": 1,
            }
        )
        tx = self.vm.get_transaction_builder().decode(signed.raw_transaction)
        return Result(self.state.apply_transaction(tx))

    @contextmanager
    def record_storage_writes(self) -> Iterator[set[tuple[bytes, int]]]:
        """Collect every (address, slot) that SSTORE writes inside the `with` block."""
        with self.record_storage_access() as access:
            yield access.writes

    @contextmanager
    def record_storage_access(self) -> Iterator["StorageAccess"]:
        """Collect every (address, slot) read (SLOAD, and SSTORE's look at the old value) and
        written inside the `with` block: the storage part of a transaction's Block-STM read
        and write sets."""
        access = StorageAccess(set(), set())
        get, set_ = self.state.get_storage, self.state.set_storage

        def reading(address: bytes, slot: int, from_journal: bool = True) -> int:
            access.reads.add((bytes(address), slot))
            return get(address, slot, from_journal)

        def writing(address: bytes, slot: int, value: int) -> None:
            access.writes.add((bytes(address), slot))
            set_(address, slot, value)

        self.state.get_storage = reading  # type: ignore[method-assign]
        self.state.set_storage = writing  # type: ignore[method-assign]
        try:
            yield access
        finally:
            del self.state.get_storage
            del self.state.set_storage


@dataclass(frozen=True)
class StorageAccess:
    """The storage slots one transaction read and wrote."""

    reads: set[tuple[bytes, int]]
    writes: set[tuple[bytes, int]]

    def conflicts(
        self, later: "StorageAccess", counters: frozenset[tuple[bytes, int]] = frozenset()
    ) -> set[tuple[bytes, int]]:
        """Slots this transaction writes that `later` reads or writes, leaving out counters the
        parallel executor merges: what would make Block-STM re-execute `later` after it."""
        return (self.writes & (later.reads | later.writes)) - counters

    def independent_of(
        self, other: "StorageAccess", counters: frozenset[tuple[bytes, int]] = frozenset()
    ) -> bool:
        """Neither transaction touches what the other writes, in either block order."""
        return not self.conflicts(other, counters) and not other.conflicts(self, counters)


class Contract:
    """ABI-aware access to one deployed contract."""

    def __init__(self, evm: Evm, artifact: ContractArtifact, address: bytes) -> None:
        self.evm = evm
        self.artifact = artifact
        self.address = address
        self.web3_contract = Web3().eth.contract(
            address=to_checksum_address(address), abi=list(artifact.abi)
        )

    def _function(self, name: str) -> Any:
        return next(e for e in self.artifact.abi if e["type"] == "function" and e["name"] == name)

    def calldata(self, name: str, *args: Any) -> bytes:
        return bytes(HexBytes(self.web3_contract.encode_abi(name, args=list(args))))

    def call(self, name: str, *args: Any) -> Any:
        """The decoded return value of a view; a single output is unwrapped."""
        result = self.evm.view(self.address, self.calldata(name, *args))
        assert result.success, f"{name} reverted: {result.revert_reason}"
        outputs = self._function(name)["outputs"]
        values = decode([output_type(o) for o in outputs], result.output)
        return values[0] if len(values) == 1 else values

    def transact(self, account: LocalAccount, name: str, *args: Any, value: int = 0) -> Result:
        return self.evm.transact(account, self.address, self.calldata(name, *args), value)

    def system(self, name: str, *args: Any) -> Result:
        return self.evm.message_call(SYSTEM_ADDRESS, self.address, self.calldata(name, *args))

    def events(self, result: Result, name: str) -> list[dict[str, Any]]:
        """The decoded arguments of every `name` event this contract emitted in `result`."""
        event = getattr(self.web3_contract.events, name)()
        return [
            dict(event.process_log(log)["args"])
            for log in result.logs()
            if log["address"] == to_checksum_address(self.address)
            and log["topics"][0] == HexBytes(event.topic)
        ]


def address_of(account: LocalAccount) -> bytes:
    return to_canonical_address(account.address)


def output_type(output: dict[str, Any]) -> str:
    """The ABI type string of an output, tuples (structs) included."""
    if output["type"] == "tuple":
        return "(" + ",".join(output_type(c) for c in output["components"]) + ")"
    return output["type"]


class Federation:
    """Member keys (sorted by address, the order the Bridge wants signatures in) and m."""

    def __init__(self, members: list[LocalAccount], threshold: int) -> None:
        self.members = sorted(members, key=address_of)
        self.threshold = threshold

    @property
    def addresses(self) -> list[str]:
        return [m.address for m in self.members]

    def sign(
        self,
        message: TypedMessage,
        count: int | None = None,
        members: list[LocalAccount] | None = None,
    ) -> list[bytes]:
        """Signatures of the first `count` members (default m), ascending by signer."""
        signers = members if members is not None else self.members[: count or self.threshold]
        return [sign_attestation(message, m.key, CHAIN_ID, BRIDGE_ADDRESS) for m in signers]


def funded_chain(accounts: list[LocalAccount]) -> VirtualMachineAPI:
    chain_class = MiningChain.configure(vm_configuration=((0, PragueVM),), chain_id=CHAIN_ID)
    genesis_state = {
        address_of(a): {"balance": 10**24, "nonce": 0, "code": b"", "storage": {}} for a in accounts
    }
    chain = chain_class.from_genesis(
        AtomicDB(), {"difficulty": 0, "gas_limit": 30_000_000}, genesis_state
    )
    return chain.get_vm()


@pytest.fixture
def federation() -> Federation:
    keys = [bytes([0x10 + i]) * 32 for i in range(3)]
    return Federation([Account.from_key(k) for k in keys], threshold=2)


@pytest.fixture
def users() -> list[LocalAccount]:
    """Four funded users with fixed keys (so fixed addresses and supply shards)."""
    return [Account.from_key(bytes([0xA0 + i]) * 32) for i in range(4)]


@pytest.fixture
def evm(users: list[LocalAccount]) -> Evm:
    return Evm(funded_chain(users))


@pytest.fixture
def genesis(federation: Federation) -> Genesis:
    """The harness chain's genesis: its federation, short windows, no genesis stake, lending
    governed by GOVERNANCE_KEY."""
    return Genesis(
        chain_id=CHAIN_ID,
        federation=tuple(address_of(m) for m in federation.members),
        threshold=federation.threshold,
        withdrawal_fee_bps=WITHDRAWAL_FEE_BPS,
        restaking=RestakingGenesis(RESTAKING),
        lending=LendingParams(
            address_of(Account.from_key(GOVERNANCE_KEY)), MAX_PRICE_AGE, MAX_DEVIATION_BPS
        ),
    )


@pytest.fixture
def predeployed(evm: Evm, genesis: Genesis) -> Evm:
    """The state with every predeploy, as `sluice node init` builds it."""
    apply_genesis(evm.state, genesis)
    return evm


@pytest.fixture
def usdt(predeployed: Evm) -> Contract:
    return Contract(predeployed, load_artifact("USDT"), USDT_ADDRESS)


@pytest.fixture
def bridge(predeployed: Evm) -> Contract:
    return Contract(predeployed, load_artifact("Bridge"), BRIDGE_ADDRESS)


@pytest.fixture
def court(predeployed: Evm) -> Contract:
    return Contract(predeployed, load_artifact("ChallengeCourt"), COURT_ADDRESS)


def block_number(evm: Evm) -> int:
    return evm.state.execution_context.block_number


def advance(evm: Evm, blocks: int, seconds: int = 0) -> int:
    """Move the state's block number (and clock) on; returns the new block number."""
    context = evm.state.execution_context
    context._block_number += blocks
    context._timestamp += seconds
    return context.block_number
