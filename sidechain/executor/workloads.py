"""Workloads for benchmarks and tests: a dev chain in a temporary store and one block of N txs.

`transfers`: native coin, N senders to N fresh receivers. `erc20`: USDT transfers, N senders
(funded by USDT deposits in block 1) to N fresh receivers. `deposits`: N deposit transactions,
BTC and USDT in turn, to N fresh recipients. `hot`: native transfers where every tenth one
pays one shared account. `chain`: N transfers from one sender, each nonce depending on the
previous one. `restake`: N stakers deposit BTC into the rsBTC vault, delegating to the
federation's operators (50/30/20). `lending`: N users of the lending pool, half supplying BTC,
half borrowing USDT against BTC they supplied before. The block's gas limit is raised to fit
the N transactions.
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

from lending.oracle import PriceReport, quorum_signatures
from sidechain.attestation import Attestation, sign_attestation
from sidechain.chaindata import ChainData, decode_transaction
from sidechain.executor.abc import BlockResult, PreState
from sidechain.executor.errors import UnknownWorkload
from sidechain.executor.header import next_header, seal_header
from sidechain.executor.sequential import SequentialExecutor
from sidechain.genesis import DevAccount, Genesis, build_genesis, dev_genesis
from sidechain.predeploys import (
    BRIDGE_ADDRESS,
    BTC_VAULT_ADDRESS,
    ORACLE_ADDRESS,
    POOL_ADDRESS,
    USDT_ADDRESS,
)
from sidechain.store import Store
from sidechain.system_tx import (
    ASSET_BTC,
    ASSET_USDT,
    WEI_PER_SAT,
    BlockTransaction,
    DepositTransaction,
)

WORKLOADS = ("transfers", "erc20", "deposits", "restake", "lending", "hot", "chain")
TRANSFER_GAS = 21_000
ERC20_GAS = 80_000
CONTRACT_GAS = 500_000  # a restaking deposit or a lending call, with room
HOT_ADDRESS = Address(b"\x40" * 20)
_MIN_GAS_LIMIT = 30_000_000
_GAS_PER_TX_BOUND = CONTRACT_GAS  # no workload transaction asks for more gas
_USDT_FUNDING = 10**12
_TIMESTAMP = 1_700_000_000
_TIP = 10**8


def fee_fields(chain_id: int, nonce: int, max_fee: int, tip: int) -> dict[str, object]:
    """The fields every workload transaction has: an EIP-1559 transaction's chain, nonce, fees."""
    return {
        "chainId": chain_id,
        "nonce": nonce,
        "maxFeePerGas": max_fee,
        "maxPriorityFeePerGas": tip,
        "type": 2,
    }


def user_tx_fields(
    workload: str, chain_id: int, nonce: int, receiver: Address, amount: int, max_fee: int, tip: int
) -> dict[str, object]:
    """An EIP-1559 transaction of `workload` (native transfer, or USDT transfer for erc20)
    sending `amount` to `receiver`, ready for `Account.sign_transaction`."""
    tx = fee_fields(chain_id, nonce, max_fee, tip)
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

    def call(
        self,
        sender: DevAccount,
        nonce: int,
        to: Address,
        data: bytes,
        value: int = 0,
        gas: int = CONTRACT_GAS,
    ) -> BlockTransaction:
        """A contract call from `sender` paying `value` wei (`to` empty: a creation, `data`
        its init code)."""
        fields = fee_fields(self.chain_id, nonce, self._max_fee, _TIP)
        target = to_checksum_address(to) if to else b""
        fields.update(to=target, value=value, data=data, gas=gas)
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


def _calldata(signature: str, args: list[object]) -> bytes:
    """ABI calldata of `signature` ("name(type,...)") with `args`."""
    types = signature[signature.index("(") + 1 : -1].split(",")
    return keccak(text=signature)[:4] + encode(types, args)


# How a real federation's stake is spread: a few operators draw most of it.
_OPERATOR_WEIGHTS = (5, 3, 2)
RESTAKE_SATS = 10**6


def restake_operator(index: int, operators: list[Address]) -> Address:
    """The operator staker `index` delegates to, by `_OPERATOR_WEIGHTS` (50/30/20 of 3)."""
    slots = [
        op for op, weight in zip(operators, _OPERATOR_WEIGHTS, strict=False) for _ in range(weight)
    ]
    return slots[index % len(slots)]


def _restake(chain: WorkloadChain, count: int) -> tuple[BlockTransaction, ...]:
    """N stakers deposit BTC into the rsBTC vault, each delegating to one of the federation's
    operators (registered and staked at genesis)."""
    operators = [_address(member) for member in chain.federation]
    return tuple(
        chain.call(
            staker,
            0,
            BTC_VAULT_ADDRESS,
            _calldata("deposit(address,uint256)", [restake_operator(i, operators), RESTAKE_SATS]),
            value=RESTAKE_SATS * WEI_PER_SAT,
        )
        for i, staker in enumerate(chain.accounts[:count])
    )


MARKET_BTC, MARKET_USDT = 0, 1
_BTC_PRICE = 60_000 * 10**8  # USD per coin, 8 decimals (lending.oracle)
_USDT_PRICE = 10**8
COLLATERAL_SATS = 10**8
BORROW_USDT = 1_000 * 10**8
_POOL_LIQUIDITY = 10**15  # USDT base units a lender supplies before the block


def _lending(chain: WorkloadChain, count: int) -> tuple[BlockTransaction, ...]:
    """N distinct users: every other one supplies BTC, the others (who supplied BTC in the
    block before) borrow USDT. Before that, the federation posts BTC and USDT prices and a
    lender supplies USDT liquidity."""
    users, lender, poster = chain.accounts[:count], chain.accounts[count], chain.accounts[count + 1]
    borrowers = users[1::2]
    timestamp = chain.next_header().timestamp
    keys = [member.private_key for member in chain.federation[: chain.genesis.threshold]]
    posts = []
    for nonce, (asset, price) in enumerate(((ASSET_BTC, _BTC_PRICE), (ASSET_USDT, _USDT_PRICE))):
        report = PriceReport(asset, price, timestamp, 1)
        signatures = quorum_signatures(report, keys, chain.chain_id, ORACLE_ADDRESS)
        data = _calldata(
            "post(uint8,uint256,uint256,uint256,bytes[])",
            [asset, price, timestamp, 1, signatures],
        )
        posts.append(chain.call(poster, nonce, ORACLE_ADDRESS, data))
    chain.commit((chain.deposit(0, ASSET_USDT, _POOL_LIQUIDITY, _address(lender)), *posts))
    supply_btc = _calldata("supply(uint8,uint256)", [MARKET_BTC, COLLATERAL_SATS])
    chain.commit(
        (
            chain.call(
                lender,
                0,
                USDT_ADDRESS,
                _calldata(
                    "approve(address,uint256)", [to_checksum_address(POOL_ADDRESS), _POOL_LIQUIDITY]
                ),
            ),
            chain.call(
                lender,
                1,
                POOL_ADDRESS,
                _calldata("supply(uint8,uint256)", [MARKET_USDT, _POOL_LIQUIDITY]),
            ),
            *(
                chain.call(user, 0, POOL_ADDRESS, supply_btc, COLLATERAL_SATS * WEI_PER_SAT)
                for user in borrowers
            ),
        )
    )
    borrow = _calldata("borrow(uint8,uint256)", [MARKET_USDT, BORROW_USDT])
    return tuple(
        chain.call(user, 1, POOL_ADDRESS, borrow)
        if i % 2
        else chain.call(user, 0, POOL_ADDRESS, supply_btc, COLLATERAL_SATS * WEI_PER_SAT)
        for i, user in enumerate(users)
    )


_BUILDERS: dict[str, Callable[[WorkloadChain, int], tuple[BlockTransaction, ...]]] = {
    "transfers": _transfers,
    "erc20": _erc20,
    "deposits": _deposits,
    "restake": _restake,
    "lending": _lending,
    "hot": _hot,
    "chain": _chain,
}
_SENDERS: dict[str, Callable[[int], int]] = {
    "transfers": lambda count: count,
    "erc20": lambda count: count,
    "deposits": lambda count: 1,
    "restake": lambda count: count,
    "lending": lambda count: count + 2,
    "hot": lambda count: count,
    "chain": lambda count: 1,
}
_SETUP_TXS: dict[str, Callable[[int], int]] = {
    "erc20": lambda count: count,
    "lending": lambda count: 5 + count // 2,
}


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
