"""Looking again, in blocks already scanned, for the deposit addresses a member learns late.

The scanner matches each block against the deposit addresses its ledger holds when it applies
the block. A member also stores addresses it did not hand out: from a peer (relayer.gossip) or
from the API over its ledger, possibly after the address was paid and the block scanned (the
member was down, or cut off from the peer that made the address). Without a second look that
payment would never be recorded here, and the member would refuse a later federation spend of
the coin. So every address stored (each `deposit_address` `created` entry of the audit log,
whichever way it came) is looked for in the blocks the scanner applied, from `rescan_blocks`
below its tip, and what pays it is recorded like a payment found by the forward scan.

The bound, one week of blocks by default (`RESCAN_BLOCKS`): a member hears of each address a
peer stores within seconds while both are up, and a member that was down or cut off hears of
every address it missed as soon as it is back (the gossip cursors), so a payment is found when
the member learns its address within a week of the payment. The Omni indexer keeps the results
of as many blocks (the scanner sizes it so), which a USDT payment needs to be judged. A ledger
records no creation height per address, and a peer's announcement carries none, so the bound
is a window below the tip, not the address's own start.

State, in ledger cursors written in the transaction that records each step's payments, so a
scanner killed at any point resumes where it stopped and records nothing twice:

  deposit_scanner.rescanned    audit id: every address stored up to it has been looked for
  deposit_scanner.rescanning   audit id of the last address of the rescan under way (a rescan
                               is under way while it is above `rescanned`)
  deposit_scanner.rescan_at    the next block height the rescan under way reads

A rescan covers at most `MAX_ADDRESSES` addresses and reads `batch_size` heights a step. It does
not fetch a block that `RecentPayees` knows paid none of its addresses, so while the scanner
runs a rescan mostly reads the ledger and memory, not bitcoind.
"""

from collections import OrderedDict
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from bitcoin import segwit_addr
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bridge.bitcoin.blocks import Block
from bridge.bitcoin.deposit_records import QUERY_CHUNK, rows_where_in
from bridge.bitcoin.errors import BitcoinError
from bridge.ledger.ledger import Ledger
from bridge.ledger.models import AuditEntry, BitcoinBlock, DepositAddress

RESCAN_BLOCKS = 7 * 144  # one week of blocks
MAX_ADDRESSES = QUERY_CHUNK
RESCANNED = "deposit_scanner.rescanned"
RESCANNING = "deposit_scanner.rescanning"
RESCAN_AT = "deposit_scanner.rescan_at"
_P2WSH_PROGRAM = 32


class OmniResultsGone(BitcoinError):
    """A block to rescan is older than the Omni results the indexer keeps (its USDT payments
    cannot be judged); the scanner sizes the indexer so that this does not happen."""

    def __init__(self, height: int, block_hash: str) -> None:
        self.height = height
        self.block_hash = block_hash
        super().__init__(f"no Omni results kept for block {height} ({block_hash}) to rescan")


@dataclass(frozen=True)
class RescanJob:
    """The addresses stored after audit entry `after` up to entry `last`, looked for in the
    scanned blocks from `next_height` on."""

    after: int
    last: int
    next_height: int
    scripts: dict[str, bytes]  # address -> its witness script


def start_after_known(ledger: Ledger) -> None:
    """A scanner with no checkpoint yet applies every block from its start with the addresses
    already stored: none of them needs a rescan."""
    if ledger.cursors.get(RESCANNED) is None:
        latest = ledger.session.scalar(select(func.max(AuditEntry.id)))
        ledger.cursors.set(RESCANNED, latest or 0)


def rescan_job(session: Session, first_height: int) -> RescanJob | None:
    """The rescan under way; else a new one for the next addresses stored since the last
    (looked for from `first_height`); None when every stored address has been looked for."""
    ledger = Ledger(session)
    after = ledger.cursors.position(RESCANNED, 0)
    last = ledger.cursors.position(RESCANNING, after)
    if last > after:
        entries = _address_entries(session, after, through=last)
        next_height = ledger.cursors.position(RESCAN_AT, first_height)
    else:
        entries = _address_entries(session, after, through=None)
        if not entries:
            return None
        last, next_height = entries[-1].id, first_height
    addresses = [entry.record_id for entry in entries]
    rows = rows_where_in(session, DepositAddress, DepositAddress.address, addresses)
    scripts = {row.address: bytes.fromhex(row.witness_script) for row in rows}
    return RescanJob(after, last, next_height, scripts)


def scanned_blocks(session: Session, first: int, last: int) -> list[BitcoinBlock]:
    """The blocks the scanner applied at heights `first`..`last`, lowest first."""
    query = select(BitcoinBlock).where(BitcoinBlock.height.between(first, last))
    return list(session.scalars(query.order_by(BitcoinBlock.height)))


def save_progress(ledger: Ledger, job: RescanJob, next_height: int, finished: bool) -> None:
    """Where `job` stands after a step: its next height, or done (its addresses looked for)."""
    ledger.cursors.set(RESCANNING, job.last)
    ledger.cursors.set(RESCAN_AT, next_height)
    if finished:
        ledger.cursors.set(RESCANNED, job.last)


class RecentPayees:
    """The P2WSH addresses (every deposit address is one) each of the last `size` blocks paid,
    by block hash: a block's contents never change, so a reorg leaves no entry wrong."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._paid: OrderedDict[str, frozenset[str]] = OrderedDict()

    def note(self, block: Block) -> None:
        self._paid[block.hash] = frozenset(
            out.address
            for tx in block.transactions
            for out in tx.outputs
            if out.address is not None and _is_p2wsh_script(out.script_pubkey)
        )
        self._paid.move_to_end(block.hash)
        while len(self._paid) > self._size:
            self._paid.popitem(last=False)

    def to_read(self, block_hashes: Iterable[str], addresses: Collection[str]) -> list[str]:
        """Those of `block_hashes` that may pay one of `addresses`: every block not kept, and
        every block when an address is not P2WSH (its payments are not noted)."""
        if not all(_is_p2wsh_address(address) for address in addresses):
            return list(block_hashes)
        wanted = frozenset(addresses)
        return [
            block_hash
            for block_hash in block_hashes
            if (paid := self._paid.get(block_hash)) is None or not wanted.isdisjoint(paid)
        ]


def _address_entries(session: Session, after: int, through: int | None) -> list[AuditEntry]:
    """The `deposit_address` creations after id `after`: up to `through`, or the next batch."""
    query = select(AuditEntry).where(
        AuditEntry.id > after,
        AuditEntry.record_kind == "deposit_address",
        AuditEntry.action == "created",
    )
    query = query.order_by(AuditEntry.id)
    bounded = (
        query.limit(MAX_ADDRESSES) if through is None else query.where(AuditEntry.id <= through)
    )
    return list(session.scalars(bounded))


def _is_p2wsh_script(script_pubkey: bytes) -> bool:
    return len(script_pubkey) == 2 + _P2WSH_PROGRAM and script_pubkey[:2] == b"\x00\x20"


def _is_p2wsh_address(address: str) -> bool:
    version, program = segwit_addr.decode(address.rpartition("1")[0], address)
    return version == 0 and program is not None and len(program) == _P2WSH_PROGRAM
