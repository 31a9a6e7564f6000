"""The deposit scanner: a block stage that records payments to deposit addresses in the ledger.

`execute` follows bitcoind to its tip one block per ledger transaction (the block row, its
payments, confirmation counts and the checkpoint commit together, so a killed scanner resumes
exactly after the last block it committed). `unwind` answers a reorg: the blocks above the
fork leave the ledger and their deposits become `reorged`; a deposit whose transaction comes
back in a later block is restored to `seen` (and re-judged). Omni balances are kept in memory
by an `OmniIndexer` that the scanner feeds; after a restart it is rebuilt from
`omni_start_height`. A reorg that removes a confirmed deposit is logged as an error: it is
deeper than the confirmation depth, and the bridge must pause.

A deposit address stored after the scan passed the block that paid it (a member learns it
from a peer or the API late) is looked for again in the blocks scanned within
`rescan_blocks` below the tip, a step per `execute` (bridge.bitcoin.rescan).
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from bridge.bitcoin import rescan
from bridge.bitcoin.blocks import Block, RPCClient, fetch_blocks_by_hash
from bridge.bitcoin.chain import BlockRef, BlockStage, ObservedStage, sync_stage
from bridge.bitcoin.deposit_records import count_confirmations, record_payments, rows_where_in
from bridge.bitcoin.omni.indexer import UNDO_DEPTH, OmniIndexer, OmniTxResult
from bridge.bitcoin.payments import DepositRules, recognise
from bridge.ledger.ledger import Ledger
from bridge.ledger.models import DepositAddress
from bridge.ledger.states import DEPOSIT, DepositStatus

log = logging.getLogger(__name__)

CURSOR = "deposit_scanner"
_PAST_DEPTH = (DepositStatus.CONFIRMED, DepositStatus.ATTESTED, DepositStatus.MINTED)


@dataclass(frozen=True)
class ScannerSettings:
    rules: DepositRules
    confirmations: int = 6  # the depth at which a deposit is `confirmed`
    start_height: int = 0  # the first block scanned on an empty ledger
    # Omni validity needs every Omni transaction since the property was created, so the
    # indexer may start (well) before the scan: its balances are rebuilt from here.
    omni_start_height: int = 0
    batch_size: int = 20  # blocks fetched per RPC round trip (heights per rescan step)
    # How far below its tip the scanner looks for an address it learns (bridge.bitcoin.rescan).
    rescan_blocks: int = rescan.RESCAN_BLOCKS

    def __post_init__(self) -> None:
        for name in ("confirmations", "batch_size", "rescan_blocks"):
            if getattr(self, name) < 1:
                raise ValueError(f"scanner {name} must be >= 1, got {getattr(self, name)}")


@dataclass(frozen=True)
class ExecOutput:
    """Where `execute` stopped: the checkpoint, and whether it is bitcoind's tip with no
    rescan left to do."""

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
        # The rescan judges USDT payments with the results the indexer keeps for each block.
        undo_depth = max(UNDO_DEPTH, settings.rescan_blocks)
        self.omni = OmniIndexer(start_height=settings.omni_start_height, undo_depth=undo_depth)
        self.payees = rescan.RecentPayees(settings.rescan_blocks)

    async def execute(self) -> ExecOutput:
        """Scan forward to bitcoind's tip (unwinding on the way if the chain reorganised), then
        take one step of the rescan for addresses learned since (bridge.bitcoin.rescan)."""
        checkpoint = self.checkpoint()
        if checkpoint is None:
            with self._sessions.begin() as session:
                rescan.start_after_known(Ledger(session))
        below = self.start_height - 1 if checkpoint is None else checkpoint.height
        omni = self.omni.checkpoint()
        if omni is None or omni.height < below:
            log.info("%s: bringing Omni balances up to height %d", self.name, below)
            catch_up = ObservedStage(self.omni, self.payees.note)
            await sync_stage(self._rpc, catch_up, self.settings.batch_size, below)
        tip = await sync_stage(self._rpc, self, self.settings.batch_size)
        checkpoint = self.checkpoint()
        if checkpoint is None:
            return ExecOutput(None, False)
        rescanning = await self._rescan_step(checkpoint)
        return ExecOutput(checkpoint, checkpoint.height == tip and not rescanning)

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
        self.payees.note(block)
        omni = self.omni.index_block(block)
        try:
            with self._sessions.begin() as session:
                ledger = Ledger(session)
                ledger.blocks.connect(block.height, block.hash, block.prev_hash)
                # Read per block, so an address counts from the first block after it was stored.
                known = rows_where_in(
                    session, DepositAddress, DepositAddress.address, _paid_addresses(block)
                )
                scripts = {row.address: bytes.fromhex(row.witness_script) for row in known}
                self._record(ledger, block, omni, scripts)
                count_confirmations(ledger, block.height, self.settings.confirmations)
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
            count_confirmations(ledger, to_height, self.settings.confirmations)

    # -- the rescan of learned addresses -----------------------------------------------------

    async def _rescan_step(self, checkpoint: BlockRef) -> bool:
        """Look for the addresses of the rescan under way (or of a new one) in the next
        `batch_size` scanned blocks; True while a rescan has more to do."""
        tip = checkpoint.height
        with self._sessions() as session:
            first_height = max(self.start_height, tip - self.settings.rescan_blocks + 1)
            job = rescan.rescan_job(session, first_height)
            if job is None:
                return False
            last_height = min(tip, job.next_height + self.settings.batch_size - 1)
            blocks = rescan.scanned_blocks(session, job.next_height, last_height)
        wanted = self.payees.to_read([block.hash for block in blocks], job.scripts)
        fetched = await fetch_blocks_by_hash(self._rpc, wanted)
        finished = last_height >= tip
        with self._sessions.begin() as session:
            ledger = Ledger(session)
            if self.checkpoint() != checkpoint:
                return True  # a reorg unwound the scan meanwhile: try again from the new tip
            for block in fetched:
                self._record(ledger, block, self._omni_results(block), job.scripts)
            count_confirmations(ledger, tip, self.settings.confirmations)
            rescan.save_progress(ledger, job, last_height + 1, finished)
        log.log(
            logging.INFO if finished else logging.DEBUG,
            "%s: rescan for %d learned address(es) %s height %d",
            self.name,
            len(job.scripts),
            "done through" if finished else "at",
            last_height,
        )
        return not finished or len(job.scripts) == rescan.MAX_ADDRESSES

    def _omni_results(self, block: Block) -> list[OmniTxResult]:
        results = self.omni.results_of(block.hash)
        if results is None:
            raise rescan.OmniResultsGone(block.height, block.hash)
        return results

    # -- ledger writes -----------------------------------------------------------------------

    def _record(
        self,
        ledger: Ledger,
        block: Block,
        omni: list[OmniTxResult],
        scripts: Mapping[str, bytes],
    ) -> None:
        """The payments in `block` to the addresses of `scripts`, recorded once."""
        payments = recognise(block, omni, scripts, self.settings.rules)
        if payments:
            written = record_payments(ledger, payments, BlockRef(block.height, block.hash))
            log.debug("%s: %d payment(s) recorded in block %d", self.name, written, block.height)


def _paid_addresses(block: Block) -> set[str]:
    return {out.address for tx in block.transactions for out in tx.outputs if out.address}
