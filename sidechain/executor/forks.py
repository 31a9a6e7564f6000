"""Which py-evm fork rules a block, and the fork's block-level work around its transactions.

A `ForkSchedule` maps block numbers to py-evm VM classes (our chain: `SluiceVM` from genesis;
a replayed Ethereum test: the fixture's network, transitions included). `BlockFrame` runs what
the fork does before and after the transactions, through the VM class's own methods (py-evm's
order of `VM.import_block`): the pre-block system calls (beacon roots from Cancun, block-hash
history from Prague), withdrawals (Shanghai), requests (Prague), then the block and uncle
rewards (before Paris) or, on our chain, the fee-vault credit.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth.abc import (
    BlockAPI,
    BlockHeaderAPI,
    ComputationAPI,
    ReceiptAPI,
    ReceiptBuilderAPI,
    SignedTransactionAPI,
    StateAPI,
    VirtualMachineAPI,
    WithdrawalAPI,
)
from eth.chains.mainnet import MainnetDAOValidatorVM
from eth.vm.chain_context import ChainContext
from eth.vm.forks import (
    ArrowGlacierVM,
    BerlinVM,
    ByzantiumVM,
    CancunVM,
    ConstantinopleVM,
    FrontierVM,
    GrayGlacierVM,
    HomesteadVM,
    IstanbulVM,
    LondonVM,
    MuirGlacierVM,
    ParisVM,
    PetersburgVM,
    PragueVM,
    ShanghaiVM,
    SpuriousDragonVM,
    TangerineWhistleVM,
)
from eth.vm.forks.prague.constants import (
    CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS,
    WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS,
)
from eth_typing import Hash32
from eth_utils import encode_hex

from sidechain.executor.errors import InvalidBlock, UnknownFork
from sidechain.vm import SluiceVM


@dataclass(frozen=True)
class Transition:
    """From block number `at` (or, if `by_time`, the first block with timestamp >= `at`) on,
    blocks follow `vm_class`."""

    at: int
    vm_class: type[VirtualMachineAPI]
    by_time: bool = False


@dataclass(frozen=True)
class ForkSchedule:
    """The forks of a chain in order; the first applies from genesis.

    `unprotected_txs` says whether legacy transactions signed without a chain id (pre-EIP-155)
    are accepted: Ethereum still accepts them; our chain does not. `request_contracts` says
    whether a block is invalid when Prague's withdrawal or consolidation request contract
    (EIP-7002, EIP-7251) has no code or its system call fails, as on Ethereum; py-evm skips
    such a contract quietly, and our chain has none.
    """

    transitions: tuple[Transition, ...]
    unprotected_txs: bool = False
    request_contracts: bool = False

    def __post_init__(self) -> None:
        if not self.transitions or self.transitions[0].at != 0:
            raise UnknownFork(f"a fork schedule must start at 0, got {self.transitions}")

    def vm_class_at(self, block_number: int, timestamp: int = 0) -> type[VirtualMachineAPI]:
        chosen = self.transitions[0].vm_class
        for transition in self.transitions:
            if (timestamp if transition.by_time else block_number) >= transition.at:
                chosen = transition.vm_class
        return chosen

    def vm_class_for(self, header: BlockHeaderAPI) -> type[VirtualMachineAPI]:
        return self.vm_class_at(header.block_number, header.timestamp)


SLUICE_FORKS = ForkSchedule((Transition(0, SluiceVM),))
_REQUEST_CONTRACTS = (WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS, CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS)
SLUICE_NETWORK = "Sluice"  # our chain's name in fixtures made from its blocks

_HOMESTEAD = HomesteadVM.configure(support_dao_fork=False)
_NETWORKS: dict[str, tuple[Transition, ...]] = {
    name: (Transition(0, vm_class),)
    for name, vm_class in (
        ("Frontier", FrontierVM),
        ("Homestead", _HOMESTEAD),
        ("EIP150", TangerineWhistleVM),
        ("EIP158", SpuriousDragonVM),
        ("Byzantium", ByzantiumVM),
        ("Constantinople", ConstantinopleVM),
        ("ConstantinopleFix", PetersburgVM),
        ("Petersburg", PetersburgVM),
        ("Istanbul", IstanbulVM),
        ("MuirGlacier", MuirGlacierVM),
        ("Berlin", BerlinVM),
        ("London", LondonVM),
        ("ArrowGlacier", ArrowGlacierVM),
        ("GrayGlacier", GrayGlacierVM),
        ("Paris", ParisVM),
        ("Merge", ParisVM),
        ("Shanghai", ShanghaiVM),
        ("Cancun", CancunVM),
        ("Prague", PragueVM),
    )
}
_NETWORKS.update(
    {
        "FrontierToHomesteadAt5": (Transition(0, FrontierVM), Transition(5, _HOMESTEAD)),
        "HomesteadToEIP150At5": (Transition(0, _HOMESTEAD), Transition(5, TangerineWhistleVM)),
        "HomesteadToDaoAt5": (
            Transition(
                0,
                MainnetDAOValidatorVM.configure(support_dao_fork=True, _dao_fork_block_number=5),
            ),
        ),
        "EIP158ToByzantiumAt5": (Transition(0, SpuriousDragonVM), Transition(5, ByzantiumVM)),
        "ByzantiumToConstantinopleFixAt5": (
            Transition(0, ByzantiumVM),
            Transition(5, PetersburgVM),
        ),
        "BerlinToLondonAt5": (Transition(0, BerlinVM), Transition(5, LondonVM)),
        "ArrowGlacierToParisAtDiffC0000": (Transition(0, GrayGlacierVM), Transition(6, ParisVM)),
        "ParisToShanghaiAtTime15k": (
            Transition(0, ParisVM),
            Transition(15_000, ShanghaiVM, by_time=True),
        ),
        "ShanghaiToCancunAtTime15k": (
            Transition(0, ShanghaiVM),
            Transition(15_000, CancunVM, by_time=True),
        ),
        "CancunToPragueAtTime15k": (
            Transition(0, CancunVM),
            Transition(15_000, PragueVM, by_time=True),
        ),
    }
)


def network_forks(network: str) -> ForkSchedule:
    """The fork schedule of an Ethereum test network name ("Cancun", "BerlinToLondonAt5"...)."""
    if network == SLUICE_NETWORK:
        return SLUICE_FORKS
    if network not in _NETWORKS:
        raise UnknownFork(f"no py-evm rules for network {network!r}")
    return ForkSchedule(_NETWORKS[network], unprotected_txs=True, request_contracts=True)


class _BlockReceipts:
    """Stands in for the chain database where a fork reads the block's own receipts (Prague's
    deposit requests, our fee-vault credit): the executor holds them, nothing is stored."""

    def __init__(self) -> None:
        self.receipts: tuple[ReceiptAPI, ...] = ()

    def get_receipts(
        self, header: BlockHeaderAPI, receipt_builder: type[ReceiptBuilderAPI]
    ) -> tuple[ReceiptAPI, ...]:
        return self.receipts


class BlockFrame:
    """The fork's work around a block's transactions, on one state."""

    def __init__(
        self,
        vm_class: type[VirtualMachineAPI],
        state: StateAPI,
        header: BlockHeaderAPI,
        chain_id: int,
        uncles: Sequence[BlockHeaderAPI] = (),
        withdrawals: Sequence[WithdrawalAPI] = (),
        request_contracts: bool = False,
    ) -> None:
        self.request_contracts = request_contracts
        self._receipts = _BlockReceipts()
        self.vm = vm_class(header, self._receipts, ChainContext(chain_id), None)  # type: ignore[arg-type]
        self.vm._state = state  # type: ignore[attr-defined]
        self.withdrawals = tuple(withdrawals)
        self._block_class = vm_class.get_block_class()
        self._body: dict[str, object] = {"uncles": list(uncles)}
        if "withdrawals" in self._block_class._meta.field_names:  # type: ignore[attr-defined]
            self._body["withdrawals"] = list(self.withdrawals)
        self.block: BlockAPI = self._block_class(header, transactions=[], **self._body)

    def begin(self) -> None:
        """The pre-block state changes: the DAO fork's drain (py-evm makes it while configuring
        a Homestead header), the system calls (beacon roots, block-hash history)."""
        if getattr(self.vm, "support_dao_fork", False):
            self.vm._block = self.block  # type: ignore[attr-defined]
            self.vm.configure_header()
        self.vm.block_preprocessing(self.block)

    def finish(
        self, txs: Sequence[SignedTransactionAPI], receipts: tuple[ReceiptAPI, ...]
    ) -> Hash32 | None:
        """Withdrawals, requests, rewards; returns the requests hash (None before Prague).

        Requests are computed on the block without its transactions (they read only the
        receipts, and py-evm copies the whole block to set the hash: 0.17 s per 1,000
        transactions); the rewards (our fee credit) get a block with them.
        """
        self._receipts.receipts = receipts
        if self.withdrawals:
            self.vm.apply_all_withdrawals(self.withdrawals)
        if self.request_contracts and hasattr(self.vm, "process_withdrawal_request_data"):
            header = self._postprocess_checking_request_contracts()
        else:
            header = self.vm.block_postprocessing(self.block).header
        if header.block_number > 0:
            block = self._block_class(header, transactions=list(txs), **self._body)
            self.vm._assign_block_rewards(block)  # type: ignore[attr-defined]
        return getattr(header, "requests_hash", None)

    def _postprocess_checking_request_contracts(self) -> BlockHeaderAPI:
        """The fork's block end, refusing a block whose request contracts are missing or
        whose system calls to them fail (raises `InvalidBlock`)."""
        for address in _REQUEST_CONTRACTS:
            if not self.vm.state.get_code(address):
                raise InvalidBlock(f"request contract {encode_hex(address)} has no code")
        calls: list[ComputationAPI] = []
        execute = self.vm.execute_bytecode

        def recorded(**kwargs: Any) -> ComputationAPI:
            calls.append(execute(**kwargs))
            return calls[-1]

        self.vm.execute_bytecode = recorded  # type: ignore[method-assign]
        try:
            header = self.vm.block_postprocessing(self.block).header
        finally:
            del self.vm.execute_bytecode
        failed = [call.error for call in calls if call.is_error]
        if failed:
            raise InvalidBlock(f"a request contract's system call failed: {failed[0]!r}")
        return header
