"""What one member tells the others it has done: the deposit addresses it handed out, and the
vault spends it broadcast. Members never share a database, so without this a member that was
down, or an address made through the API over one member's ledger, would leave the others
blind.

* Addresses (`addresses.announce`). Each member's scanner sees only payments to addresses in
  its own ledger; a deposit to an address only one member knows would be attested once and
  never minted. An address is a function of (recipient, refund key, timeout) and the
  federation's keys, so a peer derives it itself from its own keys and stores it only then
  (`SigningMember.learn_addresses`): an announcement carries no secret and cannot make a peer
  watch an address the federation cannot spend. A peer that hears of an address after its
  scanner passed the block that paid it still records the payment: its scanner looks for every
  address it stores in the blocks of the last week again (bridge.bitcoin.rescan).
* Spends (`spend.broadcast`, the message the coordinator sends when it broadcasts). A member
  that was down when a release or an anchor went out learns it later: it checks the spend like
  a proposal against its own ledger and, when the coins are gone already, checks that the
  signed transaction carries the federation's signatures (`SigningMember.record_broadcast`).
  Until its ledger backs the spend (the requests read, their windows closed) it refuses, and is
  asked again; then it follows the spend to the depth like the others.

Each feed tails the audit log (`deposit_address` created; `release` moved to broadcast) with a
cursor per peer, `gossip.<feed>.<peer address>`: a peer that was down hears of everything it
missed, in order, and a restart repeats at most one batch (a second delivery stores nothing).
What a member learns from a peer is passed on too; its second arrival writes nothing, so it
goes no further. A peer that does not answer, or refuses, is asked again after `RETRY_AFTER_S`.
"""

import logging
import time
from abc import ABC, abstractmethod
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bridge.ledger import AuditEntry, Ledger, ReleaseStatus
from relayer.release_errors import PeerRequestFailed
from relayer.signing import Peer, proposal_to_json, stored_proposal
from relayer.signing_client import Federation

log = logging.getLogger(__name__)
RETRY_AFTER_S = 5.0


class Feed(ABC):
    """One kind of news, tailed from the audit log and sent to every peer (a daemon loop)."""

    name: str  # the loop's name and the cursors' middle part
    kind: str  # the peer message kind
    batch: int  # audit entries per message at most

    def __init__(self, sessions: sessionmaker[Session], federation: Federation) -> None:
        self._sessions = sessions
        self._federation = federation
        self._retry_at: dict[str, float] = {}  # peer address -> when to ask again

    @abstractmethod
    def entries(self, ledger: Ledger, after: int) -> list[AuditEntry]:
        """The audit entries (news) after id `after`, oldest first."""

    @abstractmethod
    def messages(self, ledger: Ledger, entries: list[AuditEntry]) -> list[dict[str, Any]]:
        """The message bodies telling `entries`, in order."""

    async def execute(self) -> bool:
        """Tell each peer the next batch it has not heard; True while a peer has more."""
        more = False
        for peer in self._federation.peers:
            more |= await self._tell(peer)
        return more

    async def _tell(self, peer: Peer) -> bool:
        if time.monotonic() < self._retry_at.get(peer.address, 0.0):
            return False
        cursor = f"gossip.{self.name}.{peer.address}"
        with self._sessions() as session:
            ledger = Ledger(session)
            entries = self.entries(ledger, ledger.cursors.position(cursor, 0))
            bodies = self.messages(ledger, entries)
        if not entries:
            return False
        try:
            for body in bodies:
                await self._federation.tell(peer, self.kind, body)
        except PeerRequestFailed as error:
            if peer.address not in self._retry_at:
                log.warning("%s: %s did not take the news yet: %s", self.name, peer.url, error)
            self._retry_at[peer.address] = time.monotonic() + RETRY_AFTER_S
            return False
        if self._retry_at.pop(peer.address, None) is not None:
            log.info("%s: %s is up to date again", self.name, peer.url)
        with self._sessions.begin() as session:
            Ledger(session).cursors.set(cursor, entries[-1].id)
        return len(entries) == self.batch

    def checkpoint(self) -> int | None:
        """The audit-log id every peer has heard of (the lowest of the per-peer cursors)."""
        with self._sessions() as session:
            cursors = Ledger(session).cursors
            known = [cursors.get(f"gossip.{self.name}.{p.address}") for p in self._federation.peers]
        positions = [c.position for c in known if c is not None]
        return min(positions) if positions and len(positions) == len(known) else None

    async def unwind(self, height: int) -> None:
        """News does not come from Bitcoin blocks: a reorg changes nothing here."""
        return None


class AddressFeed(Feed):
    """The deposit addresses this member handed out (or learned), in batches."""

    name = "addresses"
    kind = "addresses.announce"
    batch = 200

    def entries(self, ledger: Ledger, after: int) -> list[AuditEntry]:
        return list(
            ledger.audit.after(after, self.batch, record_kind="deposit_address", action="created")
        )

    def messages(self, ledger: Ledger, entries: list[AuditEntry]) -> list[dict[str, Any]]:
        rows = [ledger.deposit_addresses.get(entry.record_id) for entry in entries]
        terms = [
            {
                "recipient": row.recipient,
                "refund_pubkey": row.refund_pubkey,
                "refund_timeout": row.refund_timeout,
            }
            for row in rows
            if row is not None
        ]
        return [{"addresses": terms}] if terms else []


class SpendFeed(Feed):
    """The vault spends this member saw broadcast, one message each."""

    name = "spends"
    kind = "spend.broadcast"
    batch = 20

    def entries(self, ledger: Ledger, after: int) -> list[AuditEntry]:
        return list(
            ledger.audit.after(
                after,
                self.batch,
                record_kind="release",
                action="transition",
                to_status=ReleaseStatus.BROADCAST.value,
            )
        )

    def messages(self, ledger: Ledger, entries: list[AuditEntry]) -> list[dict[str, Any]]:
        bodies = []
        for entry in entries:
            release = ledger.releases.require(entry.record_id)
            if release.raw_tx is None or release.broadcast_height is None:
                continue
            proposal = stored_proposal(ledger, release.txid)
            bodies.append(
                {
                    **proposal_to_json(proposal),
                    "raw_tx": release.raw_tx,
                    "height": release.broadcast_height,
                }
            )
        return bodies
