"""The block producer: picks pending deposits and transactions, executes, seals and commits.

A transaction the executor finds invalid in the block's order (its sender's balance spent by an
earlier one, say) is dropped from the pool with its sender's later nonces, and the block is
executed again without them; a block is committed only whole, in one store transaction.
"""

import logging
import time
from collections.abc import Callable

from eth.abc import BlockHeaderAPI
from eth_typing import Address, Hash32

from sidechain.chaindata import ChainData
from sidechain.deposits import DepositPool
from sidechain.errors import InvalidTransaction
from sidechain.executor.abc import BlockExecutorAPI, BlockResult, PreState
from sidechain.executor.header import next_header, seal_header
from sidechain.executor.sequential import build_state
from sidechain.mempool import Mempool
from sidechain.store import Store
from sidechain.system_tx import BlockTransaction, DepositTransaction
from sidechain.views import StoredBlock

logger = logging.getLogger(__name__)


class BlockProducer:
    """Builds our own blocks on top of the head."""

    def __init__(
        self,
        store: Store,
        chain: ChainData,
        executor: BlockExecutorAPI,
        mempool: Mempool,
        deposits: DepositPool,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._chain = chain
        self._executor = executor
        self._mempool = mempool
        self._deposits = deposits
        self._clock = clock

    def produce(self) -> StoredBlock:
        """Build, execute and commit the next block (possibly empty)."""
        parent = self._chain.head().header
        template = next_header(parent, int(self._clock()))
        with self._store.reading() as snapshot:
            pre = PreState(
                snapshot.state_db(), parent.state_root, self._chain.ancestor_hashes(parent)
            )
            nonces = _NonceReader(pre, template, self._chain.genesis().chain_id)
            deposits = _fit(self._deposits.take(), template.gas_limit)
            room = template.gas_limit - sum(tx.gas for tx in deposits)
            user = self._mempool.select(template.base_fee_per_gas, room, nonces)
            result = self._execute(pre, template, (*deposits, *user))
        block = self._chain.commit_block(seal_header(template, result), result)
        self._mempool.remove({tx.hash for tx in result.transactions})
        for sender, nonce in _next_nonces(result.transactions).items():
            self._mempool.drop_stale(sender, nonce)
        self._deposits.settle(
            [tx for tx in result.transactions if isinstance(tx, DepositTransaction)]
        )
        logger.debug("block %d: %d transactions", block.number, len(block.transactions))
        return block

    def _execute(
        self, pre: PreState, template: BlockHeaderAPI, txs: tuple[BlockTransaction, ...]
    ) -> BlockResult:
        while True:
            try:
                return self._executor.execute_block(pre, template, txs)
            except InvalidTransaction as error:
                txs = self._without(txs, error.tx_hash)
                logger.info("dropped %s", error)

    def _without(
        self, txs: tuple[BlockTransaction, ...], bad_hash: Hash32
    ) -> tuple[BlockTransaction, ...]:
        """Drop the invalid transaction from the block and the pool, and its sender's later
        transactions from the block (their nonces would no longer follow)."""
        bad = next(tx for tx in txs if tx.hash == bad_hash)
        if isinstance(bad, DepositTransaction):
            self._deposits.settle([bad])
            return tuple(tx for tx in txs if tx.hash != bad_hash)
        self._mempool.remove({bad_hash})
        return tuple(
            tx
            for tx in txs
            if isinstance(tx, DepositTransaction) or tx.sender != bad.sender or tx.nonce < bad.nonce
        )


class _NonceReader:
    """Nonces in a block's pre-state, read lazily (only for senders that have pending txs)."""

    def __init__(self, pre: PreState, template: BlockHeaderAPI, chain_id: int) -> None:
        self._state, _ = build_state(pre, template, chain_id)

    def __call__(self, address: Address) -> int:
        return self._state.get_nonce(address)


def _fit(deposits: list[DepositTransaction], gas_limit: int) -> list[BlockTransaction]:
    """The deposits that fit in a block, oldest attested first; the rest wait for the next."""
    chosen: list[BlockTransaction] = []
    gas = 0
    for deposit in deposits:
        if gas + deposit.gas > gas_limit:
            break
        chosen.append(deposit)
        gas += deposit.gas
    return chosen


def _next_nonces(txs: tuple[BlockTransaction, ...]) -> dict[Address, int]:
    """Each user sender's nonce once the block is applied."""
    nonces: dict[Address, int] = {}
    for tx in txs:
        if not isinstance(tx, DepositTransaction):
            nonces[tx.sender] = max(nonces.get(tx.sender, 0), tx.nonce + 1)
    return nonces
