"""The court stage: the ChallengeCourt's events into the ledger, so every federation claim's
fraud-proof window (in sidechain blocks: the court's claim_window), its challenge and outcome
are there to read (the API's /v1/claims and /v1/challenges, the watcher's work list).

The ledger keeps a claim per operator, so a court claim is one row per operator that made it,
each with the court's claim id. Its subject is what the claim is about, read from the Bridge
event of the same call: the deposit id (txid:vout) of a deposit attestation, the Bitcoin txid
of a release, the height of a state commitment. The court's one challenge of a claim accuses
each of its operators: one ledger challenge per operator's row, grouped by
`court_challenge_id` (the court's claim id, the key of its challenge). Votes and covered
deficits go to the audit log.

Checkpoint: the cursor `court.sidechain`, the last sidechain block whose court events are in the
ledger, written in the same transaction as they are (a kill -9 replays at most one batch, and
every write is skipped when it is there already). Claims whose window has closed unchallenged
by that block are then upheld.
"""

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_utils import to_checksum_address
from sqlalchemy.orm import Session, sessionmaker

from bridge.ledger import ChallengeStatus, Claim, ClaimKind, ClaimStatus, Ledger, WindowClock
from relayer.daemon import Loop
from relayer.node_client import (
    BRIDGE_EVENT_TOPICS,
    BridgeEvent,
    CommitmentRecorded,
    Deposited,
    NodeClient,
    WithdrawalReleased,
    decode_bridge_log,
)
from relayer.runner import RelayerContext
from restaking import court
from restaking.evidence import evidence_json
from sidechain.predeploys import BRIDGE_ADDRESS, COURT_ADDRESS
from sidechain.system_tx import WEI_PER_SAT

log = logging.getLogger(__name__)
CURSOR = "court.sidechain"
BATCH_BLOCKS = 500
SUBJECT_EVENTS = ("Deposited", "WithdrawalReleased", "CommitmentRecorded")
KINDS = {
    court.ClaimKind.DEPOSIT_ATTESTATION: ClaimKind.DEPOSIT_ATTESTATION,
    court.ClaimKind.RELEASE_SIGNATURE: ClaimKind.RELEASE,
    court.ClaimKind.STATE_COMMITMENT: ClaimKind.STATE_COMMITMENT,
}


@dataclass(frozen=True)
class CourtLog:
    """A court event, where it was logged, and (for a ClaimRecorded) the Bridge event of the
    same call: what the claim is about."""

    event: court.CourtEvent
    block_number: int
    tx_hash: str
    log_index: int
    bridge_event: BridgeEvent | None = None

    @property
    def position(self) -> str:
        return f"{self.tx_hash}:{self.log_index}"

    @property
    def subject(self) -> str | None:
        """The ledger's subject of the claim: a deposit id, a Bitcoin txid or a height."""
        event = self.bridge_event
        if isinstance(event, Deposited):
            return event.deposit_id
        if isinstance(event, WithdrawalReleased):
            return event.btc_txid
        if isinstance(event, CommitmentRecorded):
            return str(event.height)
        return None


def hex_id(claim_id: bytes) -> str:
    """A court claim id as the ledger keeps it."""
    return "0x" + claim_id.hex()


async def court_logs(node: NodeClient, first: int, last: int) -> list[CourtLog]:
    """The court's events in blocks first..last, in chain order, each ClaimRecorded with the
    Bridge event that follows it in its transaction."""
    raw_court = await node.get_logs(first, last, COURT_ADDRESS)
    topics = [[BRIDGE_EVENT_TOPICS[name] for name in SUBJECT_EVENTS]]
    raw_bridge = await node.get_logs(first, last, BRIDGE_ADDRESS, topics)
    subjects: dict[str, list[tuple[int, BridgeEvent]]] = {}
    for raw in raw_bridge:
        decoded = decode_bridge_log(raw)
        if decoded is not None:
            subjects.setdefault(raw["transactionHash"], []).append((_int(raw["logIndex"]), decoded))
    found = []
    for raw in raw_court:
        event = court.decode_court_log(
            [_bytes(topic) for topic in raw["topics"]], _bytes(raw["data"])
        )
        if event is None:
            continue
        tx_hash, index = raw["transactionHash"], _int(raw["logIndex"])
        made_by = None
        if isinstance(event, court.ClaimRecorded):
            later = [s for s in subjects.get(tx_hash, []) if s[0] > index]
            if later:
                first_after = min(later, key=lambda s: s[0])
                made_by = first_after[1]
                subjects[tx_hash].remove(first_after)
        found.append(CourtLog(event, _int(raw["blockNumber"]), tx_hash.lower(), index, made_by))
    return found


class CourtMirror:
    """execute(): one batch of court events into the ledger, then upheld what closed by it."""

    name = "court"

    def __init__(self, sessions: sessionmaker[Session], node: NodeClient) -> None:
        self._sessions = sessions
        self._node = node

    async def execute(self) -> bool:
        with self._sessions() as session:
            done = Ledger(session).cursors.position(CURSOR, -1)
        head = await self._node.block_number()
        last = min(head, done + BATCH_BLOCKS)
        if last <= done:
            return False
        logs = await court_logs(self._node, done + 1, last)
        with self._sessions.begin() as session:
            ledger = Ledger(session)
            for entry in logs:
                apply_court_log(ledger, entry)
            for claim in ledger.claims.windows_closed_by(WindowClock.SIDECHAIN, last):
                ledger.claims.move(claim.id, ClaimStatus.UPHELD)
            ledger.cursors.set(CURSOR, last)
        return last < head

    def checkpoint(self) -> int | None:
        """The last sidechain block whose court events are in the ledger."""
        with self._sessions() as session:
            cursor = Ledger(session).cursors.get(CURSOR)
            return None if cursor is None else cursor.position

    async def unwind(self, height: int) -> None:
        """A Bitcoin reorg changes nothing here: claims and windows are sidechain facts."""


async def court_loops(ctx: RelayerContext) -> Sequence[Loop]:
    """The member's mirror of the court, over its own ledger and node."""
    return [CourtMirror(ctx.sessions, ctx.node)]


def apply_court_log(ledger: Ledger, entry: CourtLog) -> None:
    """Record one court event; what is recorded already is left as it is."""
    event = entry.event
    if isinstance(event, court.ClaimRecorded):
        _record_claim(ledger, entry, event)
        return
    rows = ledger.claims.for_court_claim(hex_id(getattr(event, "claim_id", b"")))
    if isinstance(event, court.ChallengeOpened):
        _record_challenge(ledger, entry, event, rows)
    elif isinstance(event, court.Voted):
        detail = {
            "operator": event.operator.lower(),
            "claim_is_false": event.claim_is_false,
            "btc_stake": event.btc_stake,
            "usdt_stake": event.usdt_stake,
            "at": entry.position,
        }
        for row in rows:
            _append_once(ledger, "claim", str(row.id), "voted", detail)
    elif isinstance(event, court.ClaimVoided):
        detail = {
            "btc_slashed": event.btc_slashed,
            "usdt_slashed": event.usdt_slashed,
            "btc_reward": event.btc_reward,
            "usdt_reward": event.usdt_reward,
        }
        _resolve(ledger, rows, ChallengeStatus.SUCCEEDED, event.btc_reward * WEI_PER_SAT, detail)
    elif isinstance(event, court.ChallengeRejected):
        _resolve(ledger, rows, ChallengeStatus.FAILED, None, {"bond": event.bond})
    elif isinstance(event, court.DeficitCovered):
        detail = {"asset": event.asset, "amount": event.amount, "outstanding": event.outstanding}
        _append_once(ledger, "deficit", entry.position, "covered", detail)


def _record_claim(ledger: Ledger, entry: CourtLog, event: court.ClaimRecorded) -> None:
    kind = KINDS[event.kind]
    subject = entry.subject or hex_id(event.subject)
    for operator in event.operators:
        if ledger.claims.find(kind, subject, operator) is not None:
            continue
        ledger.claims.open(
            kind=kind,
            subject=subject,
            operator=operator,
            clock=WindowClock.SIDECHAIN,
            opened_at_height=entry.block_number,
            closes_at_height=event.closes_at,
            court_claim_id=hex_id(event.claim_id),
        )


def _record_challenge(
    ledger: Ledger, entry: CourtLog, event: court.ChallengeOpened, rows: Sequence[Claim]
) -> None:
    court_id = hex_id(event.claim_id)
    known = {challenge.claim_id for challenge in ledger.challenges.for_court_claim(court_id)}
    evidence = {**evidence_json(event.evidence), "deficit": event.deficit}
    for row in rows:
        if row.id in known:
            continue
        ledger.challenges.submit(
            claim_id=row.id,
            challenger=to_checksum_address(event.challenger),
            bond=event.bond,
            evidence={**evidence, "voting_deadline": event.deadline},
            court_challenge_id=court_id,
            tx_hash=entry.tx_hash,
        )


def _resolve(
    ledger: Ledger,
    rows: Sequence[Claim],
    outcome: ChallengeStatus,
    reward: int | None,
    detail: Mapping[str, Any],
) -> None:
    for row in rows:
        for challenge in ledger.challenges.pending_for(row.id):
            ledger.challenges.resolve(challenge.id, outcome, reward=reward)
            ledger.audit.append("challenge", str(challenge.id), "court_outcome", detail=detail)


def _append_once(
    ledger: Ledger, kind: str, record_id: str, action: str, detail: Mapping[str, Any]
) -> None:
    """An audit entry, unless the same one is there (a replayed batch)."""
    for entry in ledger.audit.for_record(kind, record_id):
        if entry.action == action and entry.detail == dict(detail):
            return
    ledger.audit.append(kind, record_id, action, detail=detail)


def _int(value: str) -> int:
    return int(value, 16)


def _bytes(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x"))
