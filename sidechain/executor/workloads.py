"""Workloads for benchmarks and tests: a dev chain in a temporary store and one block of N txs.

`transfers`: native coin, N senders to N fresh receivers. `erc20`: USDT transfers, N senders
(funded by USDT deposits in block 1) to N fresh receivers. `deposits`: N deposit transactions,
BTC and USDT in turn, to N fresh recipients. `hot`: native transfers where every tenth one
pays one shared account. `chain`: N transfers from one sender, each nonce depending on the
previous one. The block's gas limit is raised to fit the N transactions (2,000 deposits need
240 M gas).
"""

import dataclasses
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from eth.abc import BlockHeaderAPI
from eth_abi import encode
from eth_account import Account
from eth_typing import Address
from eth_utils import keccak, to_canonical_address, to_checksum_address

from sidechain.attestation import Attestation, sign_attestation
from sidechain.chaindata import ChainData, decode_transaction
from sidechain.executor.abc import BlockResult, PreState
from sidechain.executor.errors import UnknownWorkload
from sidechain.executor.header import next_header, seal_header
from sidechain.executor.sequential import SequentialExecutor
from sidechain.genesis import DevAccount, Genesis, build_genesis, dev_genesis
from sidechain.predeploys import BRIDGE_ADDRESS, USDT_ADDRESS
from sidechain.store import Store
from sidechain.system_tx import ASSET_BTC, ASSET_USDT, BlockTransaction, DepositTransaction

WORKLOADS = ("transfers", "erc20", "deposits", "hot", "chain")
TRANSFER_GAS = 21_000
ERC20_GAS = 80_000
HOT_ADDRESS = Address(b"\x40" * 20)
_MIN_GAS_LIMIT = 30_000_000
_GAS_PER_TX_BOUND = 130_000  # above every workload transaction's gas (a deposit: 120,000)
_USDT_FUNDING = 10**12
_TIMESTAMP = 1_700_000_000
_TIP = 10**8


def user_tx_fields(
    workload: str, chain_id: int, nonce: int, receiver: Address, amount: int, max_fee: int, tip: int
) -> dict[str, object]:
    """An EIP-1559 transaction of `workload` (native transfer, or USDT transfer for erc20)
    sending `amount` to `receiver`, ready for `Account.sign_transaction`."""
    tx: dict[str, object] = {
        "chainId": chain_id,
        "nonce": nonce,
        "maxFeePerGas": max_fee,
        "maxPriorityFeePerGas": tip,
        "type": 2,
    }
    if workload == "erc20":
        data = keccak(text="transfer(address,uint256)")[:4] + encode(
            ["address", "uint256"], [to_checksum_address(receiver), amount]
        )
        tx.update(to=to_checksum_address(USDT_ADDRESS), value=0, gas=ERC20_GAS, data=data)
    else:
        tx.update(to=to_checksum_address(receiver), value=amount, gas=TRANSFER_GAS)
    return tx


def signed_deposit(
    attestation: Attestation, federation: list[DevAccount], threshold: int, chain_id: int
) -> DepositTransaction:
    """The deposit transaction for `attestation`, signed by the first `threshold` members in
    signer-address order (the order the Bridge checks)."""
    signers = sorted(federation[:threshold], key=lambda m: to_canonical_address(m.address))
    return DepositTransaction(
        txid=attestation.txid,
        vout=attestation.vout,
        asset=attestation.asset,
        amount=attestation.amount,
        recipient=Address(attestation.recipient),
        signatures=tuple(
            sign_attestation(attestation, m.private_key, chain_id, BRIDGE_ADDRESS) for m in signers
        ),
    )


def receiver(index: int) -> Address:
    """A fresh account, distinct per index and from every funded account."""
    return Address(keccak(b"sluice-bench-receiver" + index.to_bytes(8, "big"))[:20])


@dataclass(frozen=True)
class WorkloadBlock:
    """One block to execute: its pre-state (an open store snapshot), header and transactions."""

    workload: str
    chain_id: int
    store_path: Path
    pre_state: PreState
    header: BlockHeaderAPI
    txs: tuple[BlockTransaction, ...]


class WorkloadChain:
    """A dev chain in a store: genesis with `senders` funded accounts, then setup blocks."""

    def __init__(
        self, path: Path, senders: int, gas_limit: int, on_tx: Callable[[int], None]
    ) -> None:
        self.path = path
        self._on_tx = on_tx
        self._built = 0
        genesis, self.accounts, self.federation = dev_genesis(accounts=senders)
        self.genesis: Genesis = dataclasses.replace(
            genesis, gas_limit=gas_limit, timestamp=_TIMESTAMP
        )
        self.store = Store(path)
        self.chain = ChainData(self.store, self.genesis, None)  # type: ignore[arg-type]
        block = build_genesis(self.genesis)
        self.chain.commit_genesis(block.header, dict(block.state_writes))
        self.executor = SequentialExecutor(self.genesis.chain_id)
        self._max_fee = 2 * self.next_header().base_fee_per_gas + _TIP

    def _count(self, tx: BlockTransaction) -> BlockTransaction:
        self._built += 1
        self._on_tx(self._built)
        return tx

    @property
    def chain_id(self) -> int:
        return self.genesis.chain_id

    def next_header(self) -> BlockHeaderAPI:
        parent = self.chain.head().header
        return next_header(parent, parent.timestamp + 2)

    def pre_state(self, snapshot: object) -> PreState:
        parent = self.chain.head().header
        return PreState(
            snapshot.state_db(),  # type: ignore[attr-defined]
            parent.state_root,
            self.chain.ancestor_hashes(parent),
        )

    def commit(self, txs: tuple[BlockTransaction, ...], all_succeed: bool = True) -> BlockResult:
        """Execute, seal and commit a block (a setup block's transactions must all succeed)."""
        template = self.next_header()
        with self.store.reading() as snapshot:
            result = self.executor.execute_block(self.pre_state(snapshot), template, txs)
        failed = [r.error for r in result.results if r.error is not None]
        if all_succeed and failed:
            raise AssertionError(f"a setup transaction failed: {failed[0]}")
        self.chain.commit_block(seal_header(template, result), result)
        return result

    def deposit(self, index: int, asset: int, amount: int, recipient: Address) -> BlockTransaction:
        attestation = Attestation(
            keccak(b"sluice-bench-deposit" + index.to_bytes(8, "big")), 0, asset, amount, recipient
        )
        return self._count(
            signed_deposit(attestation, self.federation, self.genesis.threshold, self.chain_id)
        )

    def user_tx(
        self, sender: DevAccount, workload: str, nonce: int, to: Address, amount: int
    ) -> BlockTransaction:
        fields = user_tx_fields(workload, self.chain_id, nonce, to, amount, self._max_fee, _TIP)
        return self._count(self.sign(sender, fields))

    def sign(self, sender: DevAccount, fields: dict[str, object]) -> BlockTransaction:
        """`fields` signed by `sender`, decoded as the chain decodes it."""
        raw = bytes(Account.sign_transaction(fields, sender.private_key).raw_transaction)
        return decode_transaction(raw)

    def close(self) -> None:
        self.executor.close()
        self.store.close()


def _address(account: DevAccount) -> Address:
    return Address(to_canonical_address(account.address))


def _transfers(chain: WorkloadChain, count: int) -> tuple[BlockTransaction, ...]:
    return tuple(
        chain.user_tx(sender, "transfers", 0, receiver(i), 1 + i)
        for i, sender in enumerate(chain.accounts[:count])
    )


def _hot(chain: WorkloadChain, count: int) -> tuple[BlockTransaction, ...]:
    return tuple(
        chain.user_tx(sender, "transfers", 0, HOT_ADDRESS if i % 10 == 0 else receiver(i), 1 + i)
        for i, sender in enumerate(chain.accounts[:count])
    )


def _chain(chain: WorkloadChain, count: int) -> tuple[BlockTransaction, ...]:
    sender = chain.accounts[0]
    return tuple(chain.user_tx(sender, "transfers", i, receiver(i), 1 + i) for i in range(count))


def _erc20(chain: WorkloadChain, count: int) -> tuple[BlockTransaction, ...]:
    senders = chain.accounts[:count]
    chain.commit(
        tuple(
            chain.deposit(i, ASSET_USDT, _USDT_FUNDING, _address(sender))
            for i, sender in enumerate(senders)
        )
    )
    return tuple(
        chain.user_tx(sender, "erc20", 0, receiver(i), 1 + i) for i, sender in enumerate(senders)
    )


def _deposits(chain: WorkloadChain, count: int) -> tuple[BlockTransaction, ...]:
    """BTC and USDT deposits in turn: each USDT mint adds to one of USDT's 256 supply shards."""
    return tuple(
        chain.deposit(i, ASSET_USDT if i % 2 else ASSET_BTC, 1_000 + i, receiver(i))
        for i in range(count)
    )


_BUILDERS: dict[str, Callable[[WorkloadChain, int], tuple[BlockTransaction, ...]]] = {
    "transfers": _transfers,
    "erc20": _erc20,
    "deposits": _deposits,
    "hot": _hot,
    "chain": _chain,
}
_SENDERS: dict[str, Callable[[int], int]] = {
    "transfers": lambda count: count,
    "erc20": lambda count: count,
    "deposits": lambda count: 1,
    "hot": lambda count: count,
    "chain": lambda count: 1,
}
_SETUP_TXS: dict[str, Callable[[int], int]] = {"erc20": lambda count: count}


def block_gas_limit(count: int) -> int:
    """A gas limit that fits `count` workload transactions of any kind."""
    return max(_MIN_GAS_LIMIT, count * _GAS_PER_TX_BOUND)


@contextmanager
def workload_block(
    workload: str, count: int, on_tx: Callable[[int, int], None] = lambda built, total: None
) -> Iterator[WorkloadBlock]:
    """Build a chain for `workload` in a temporary store and yield its next block of `count`
    transactions (with the store snapshot open); everything is removed afterwards. `on_tx`
    hears how many transactions are built so far, and of how many (setup ones included)."""
    if workload not in _BUILDERS:
        raise UnknownWorkload(workload, WORKLOADS)
    gas_limit = block_gas_limit(count)
    with tempfile.TemporaryDirectory(prefix="sluice-workload-") as tmp:
        total = count + _SETUP_TXS.get(workload, lambda n: 0)(count)
        chain = WorkloadChain(
            Path(tmp) / "chain",
            _SENDERS[workload](count),
            gas_limit,
            lambda built: on_tx(built, total),
        )
        try:
            txs = _BUILDERS[workload](chain, count)
            with chain.store.reading() as snapshot:
                yield WorkloadBlock(
                    workload,
                    chain.chain_id,
                    chain.path,
                    chain.pre_state(snapshot),
                    chain.next_header(),
                    txs,
                )
        finally:
            chain.close()
