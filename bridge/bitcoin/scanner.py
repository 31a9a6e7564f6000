"""The deposit scanner: a block stage that records payments to deposit addresses in the ledger.

`execute` follows bitcoind to its tip one block per ledger transaction (the block row, its
payments, confirmation counts and the checkpoint commit together, so a killed scanner resumes
exactly after the last block it committed). `unwind` answers a reorg: the blocks above the
fork leave the ledger and their deposits become `reorged`; a deposit whose transaction comes
back in a later block is restored to `seen` (and re-judged). Omni balances are kept in memory
by an `OmniIndexer` that the scanner feeds; after a restart it is rebuilt from
`omni_start_height`. A reorg that removes a confirmed deposit is logged as an error: it is
deeper than the confirmation depth, and the bridge must pause.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from bridge.bitcoin.blocks import Block, RPCClient
from bridge.bitcoin.chain import BlockRef, BlockStage, sync_stage
from bridge.bitcoin.omni.indexer import OmniIndexer
from bridge.bitcoin.payments import DepositRules, Payment, recognise
from bridge.ledger.deposits import SeenPayment, deposit_id
from bridge.ledger.ledger import Ledger
from bridge.ledger.models import Deposit, DepositAddress
from bridge.ledger.states import DEPOSIT, DepositStatus

log = logging.getLogger(__name__)

CURSOR = "deposit_scanner"
_ADDRESS_QUERY_CHUNK = 500
_STILL_COUNTING = (DepositStatus.SEEN, DepositStatus.REJECTED)
_PAST_DEPTH = (DepositStatus.CONFIRMED, DepositStatus.ATTESTED, DepositStatus.MINTED)


@dataclass(frozen=True)
class ScannerSettings:
    rules: DepositRules
    confirmations: int = 6  # the depth at which a deposit is `confirmed`
    start_height: int = 0  # the first block scanned on an empty ledger
    # Omni validity needs every Omni transaction since the property was created, so the
    # indexer may start (well) before the scan: its balances are rebuilt from here.
    omni_start_height: int = 0
    batch_size: int = 20  # blocks fetched per RPC round trip


@dataclass(frozen=True)
class ExecOutput:
    """Where `execute` stopped: the checkpoint, and whether it is bitcoind's tip."""

    checkpoint: BlockRef | None
    done: bool


class DepositScanner(BlockStage):
    name = "deposit scanner"

    def __init__(
        self, rpc: RPCClient, sessions: sessionmaker[Session], settings: ScannerSettings
    ) -> None:
        self._rpc = rpc
        self._sessions = sessions
        self.settings = settings
        self.omni = OmniIndexer(start_height=settings.omni_start_height)

    async def execute(self) -> ExecOutput:
        """Scan forward to bitcoind's tip (unwinding on the way if the chain reorganised)."""
        checkpoint = self.checkpoint()
        below = self.start_height - 1 if checkpoint is None else checkpoint.height
        omni = self.omni.checkpoint()
        if omni is None or omni.height < below:
            log.info("%s: bringing Omni balances up to height %d", self.name, below)
            await sync_stage(self._rpc, self.omni, self.settings.batch_size, below)
        tip = await sync_stage(self._rpc, self, self.settings.batch_size)
        checkpoint = self.checkpoint()
        return ExecOutput(checkpoint, checkpoint is not None and checkpoint.height == tip)

    # -- BlockStage --------------------------------------------------------------------------

    @property
    def start_height(self) -> int:
        return self.settings.start_height

    def checkpoint(self) -> BlockRef | None:
        with self._sessions() as session:
            cursor = Ledger(session).cursors.get(CURSOR)
            if cursor is None or cursor.tag is None or cursor.position < self.start_height:
                return None
            return BlockRef(cursor.position, cursor.tag)

    def hash_at(self, height: int) -> str | None:
        with self._sessions() as session:
            block = Ledger(session).blocks.at(height)
            return None if block is None else block.hash

    def apply_block(self, block: Block) -> None:
        omni = self.omni.index_block(block)
        try:
            with self._sessions.begin() as session:
                ledger = Ledger(session)
                ledger.blocks.connect(block.height, block.hash, block.prev_hash)
                known = _deposit_addresses(session, _paid_addresses(block))
                scripts = {
                    address: bytes.fromhex(row.witness_script) for address, row in known.items()
                }
                payments = recognise(block, omni, scripts, self.settings.rules)
                if payments:
                    self._record(ledger, payments, block)
                self._count_confirmations(ledger, block.height)
                ledger.cursors.set(CURSOR, block.height, block.hash)
        except BaseException:
            self.omni.unwind(block.height - 1)
            raise

    def unwind(self, to_height: int) -> None:
        self.omni.unwind(to_height)
        with self._sessions.begin() as session:
            ledger = Ledger(session)
            removed = ledger.blocks.disconnect_above(to_height)
            for deposit in ledger.deposits.in_blocks(block.hash for block in removed):
                if deposit.status in _PAST_DEPTH:
                    log.error(
                        "%s: reorg to %d removes %s deposit %s: deeper than the depth",
                        self.name,
                        to_height,
                        deposit.status,
                        deposit.id,
                    )
                if DEPOSIT.allows(deposit.status, DepositStatus.REORGED):
                    ledger.deposits.move(
                        deposit.id, DepositStatus.REORGED, detail={"fork_height": to_height}
                    )
            fork = ledger.blocks.at(to_height)
            ledger.cursors.set(CURSOR, to_height, None if fork is None else fork.hash)
            self._count_confirmations(ledger, to_height)

    # -- ledger writes -----------------------------------------------------------------------

    def _record(self, ledger: Ledger, payments: list[Payment], block: Block) -> None:
        """New payments in one batch; reorged ones that are back restored; refused ones rejected."""
        reorged = {deposit.id for deposit in ledger.deposits.with_status(DepositStatus.REORGED)}
        returning = [p for p in payments if deposit_id(p.txid, p.vout) in reorged]
        for payment in returning:
            ledger.deposits.restore(
                deposit_id(payment.txid, payment.vout),
                block_height=block.height,
                block_hash=block.hash,
                confirmations=1,
            )
        ledger.deposits.record_many(
            [
                SeenPayment(
                    txid=p.txid,
                    vout=p.vout,
                    asset=p.asset,
                    amount=p.amount,
                    deposit_address=p.address,
                    block_height=block.height,
                    block_hash=block.hash,
                    confirmations=1,
                    omni_property_id=p.omni_property_id,
                )
                for p in payments
                if deposit_id(p.txid, p.vout) not in reorged
            ]
        )
        for payment in payments:
            if payment.reject_reason is not None:
                record_id = deposit_id(payment.txid, payment.vout)
                ledger.deposits.reject(record_id, payment.reject_reason, payment.detail)
        log.debug("%s: %d payments in block %d", self.name, len(payments), block.height)

    def _count_confirmations(self, ledger: Ledger, height: int) -> None:
        """Confirmations of deposits not yet at the depth, as of the ledger's tip `height`."""
        depth = self.settings.confirmations
        counting = select(Deposit).where(
            Deposit.status.in_(_STILL_COUNTING),
            or_(Deposit.confirmations < depth, Deposit.block_height > height - depth),
        )
        for deposit in ledger.session.scalars(counting).all():
            confirmations = min(depth, height - deposit.block_height + 1)
            if confirmations == deposit.confirmations:
                continue
            if deposit.status is DepositStatus.SEEN and confirmations >= depth:
                ledger.deposits.move(
                    deposit.id, DepositStatus.CONFIRMED, changes={"confirmations": confirmations}
                )
            else:
                ledger.deposits.set_confirmations(deposit.id, confirmations)


def _paid_addresses(block: Block) -> set[str]:
    return {out.address for tx in block.transactions for out in tx.outputs if out.address}


def _deposit_addresses(session: Session, candidates: Iterable[str]) -> dict[str, DepositAddress]:
    """Which of `candidates` are deposit addresses, read per block so an address counts from
    the first block after it was handed out. Holding the rows keeps them in the session's
    (weak) identity map, so recording a deposit finds its address without another query."""
    pending = sorted(candidates)
    found: dict[str, DepositAddress] = {}
    for start in range(0, len(pending), _ADDRESS_QUERY_CHUNK):
        chunk = pending[start : start + _ADDRESS_QUERY_CHUNK]
        query = select(DepositAddress).where(DepositAddress.address.in_(chunk))
        found.update((row.address, row) for row in session.scalars(query))
    return found
