"""The watcher's main stage: follow the Bridge's and the court's events, judge each claim in
its window, and act on it through the court.

Each step: resend what the state file holds as sent but not mined; read the next batch of
events (withdrawal requests and releases, and the court's claims, challenges, votes and
outcomes); scan new Bitcoin blocks for vault spends that pay what no withdrawal asked (logged:
a spend no claim names cannot be challenged, it is for the operators to see); judge each claim
not judged yet (`Judge`); then, on each claim:
* challenge it, when it is false, this watcher challenges (`watcher.challenge`) and the window
  is still open, with the evidence and the deficit it computed, bonded with `bond_wei` (or
  the court's minimum);
* vote on its challenge when this watcher's key is an operator's not party to the claim: the
  claim is false when its own judgement says so and the challenger's deficit is not above its
  own figure;
* resolve its challenge once the court allows it: its own challenge as soon as two thirds
  voted false, any challenge once voting ended;
and take any payout the court credited to it. A court refusal (checked by eth_estimateGas
first) is logged with the court's reason and not tried again for that claim.

Restart-safe: a transaction is written to the state file before it is sent and resent as is
after a kill (crash points `after_challenge_signed`, `after_challenge_sent`); an action is
never decided twice while its transaction may still be mined, and the court refuses a second
challenge of a claim anyway.
"""

import logging
from dataclasses import asdict
from pathlib import Path

from bitcoin.core import CTransaction

from bridge.bitcoin.rpc import BitcoinRPC
from relayer.court_mirror import CourtLog, court_logs
from relayer.daemon import Faults
from relayer.errors import CourtRefused
from relayer.node_client import (
    BridgeEvent,
    NodeClient,
    WithdrawalRefunded,
    WithdrawalReleased,
    WithdrawalRequested,
)
from relayer.watcher.judge import Judge
from relayer.watcher.sender import CourtSender
from relayer.watcher.state import ClaimWork, Request, Verdict, WatcherState
from restaking import court
from restaking.errors import MalformedEvidence
from restaking.evidence import decode_evidence, evidence_claim_id
from sidechain.contracts import load_artifact
from sidechain.predeploys import COURT_ADDRESS, REGISTRY_ADDRESS
from sluice.errors import SluiceError

log = logging.getLogger(__name__)
BATCH_BLOCKS = 500  # sidechain blocks of events per step
BITCOIN_BATCH = 20  # Bitcoin blocks scanned per step
UNCLAIMED_ALERT_BLOCKS = 12  # a vault spend paying outsiders with no claim this long: alert
WITHDRAWAL_EVENTS = ["WithdrawalRequested", "WithdrawalReleased", "WithdrawalRefunded"]
COURT = load_artifact("ChallengeCourt")
REGISTRY = load_artifact("OperatorRegistry")


def event_detail(event: BridgeEvent) -> dict[str, object]:
    """The fields of the Bridge event behind a claim, as the state file keeps them."""
    return {key: value for key, value in asdict(event).items() if key != "at"}


async def min_bond(node: NodeClient) -> int:
    """The court's smallest bond, in wei."""
    (minimum,) = COURT.decode_output(
        "min_bond", await node.eth_call(COURT_ADDRESS, COURT.calldata("min_bond"))
    )
    return int(minimum)


def work_of(entry: CourtLog) -> ClaimWork | None:
    """A recorded claim as the watcher follows it (None without the Bridge event behind it)."""
    event = entry.event
    if not isinstance(event, court.ClaimRecorded) or entry.bridge_event is None:
        return None
    return ClaimWork(
        kind=int(event.kind),
        operators=[operator.lower() for operator in event.operators],
        asset=event.asset,
        amount=event.amount,
        opened_at=entry.block_number,
        closes_at=event.closes_at,
        detail=event_detail(entry.bridge_event),
    )


async def claim_work(node: NodeClient, claim_id: bytes) -> ClaimWork | None:
    """One claim as the court holds it now, with its Bridge event (None: no such claim)."""
    data = court.claim_of_calldata(claim_id)
    claim = court.Claim.decode(await node.eth_call(COURT_ADDRESS, data))
    if claim is None:
        return None
    for entry in await court_logs(node, claim.opened_at, claim.opened_at):
        event = entry.event
        if isinstance(event, court.ClaimRecorded) and event.claim_id == claim_id:
            work = work_of(entry)
            if work is not None:
                work.status = claim.status.name.lower()
                return work
    return None


class Watcher:
    name = "watcher"

    def __init__(
        self,
        state_path: Path,
        node: NodeClient,
        rpc: BitcoinRPC,
        judge: Judge,
        sender: CourtSender,
        challenge: bool,
        bond_wei: int,
        faults: Faults,
    ) -> None:
        self._path = state_path
        self.state = WatcherState.load(state_path)
        self._node = node
        self._rpc = rpc
        self._judge = judge
        self._sender = sender
        self._challenge = challenge
        self._bond = bond_wei
        self._faults = faults

    @property
    def me(self) -> str:
        return self._sender.address

    def checkpoint(self) -> int | None:
        return None if self.state.sidechain < 0 else self.state.sidechain

    async def unwind(self, height: int) -> None:
        """A Bitcoin reorg: vault spends are scanned again from `height` on."""
        self.state.bitcoin = min(self.state.bitcoin, height)

    async def execute(self) -> bool:
        for pending in list(self.state.outbox.values()):
            await self._deliver(pending.action)
        head = await self._node.block_number()
        more = await self._follow(head)
        await self._scan_bitcoin()
        for claim_id, work in list(self.state.claims.items()):
            try:
                await self._judge_once(claim_id, work)
            except SluiceError as error:  # one claim's trouble holds up no other claim
                log.warning("watcher: claim %s not judged: %s", claim_id, error)
            await self._act(claim_id, work, head)
        await self._collect_payout()
        self._prune(head)
        self._save()
        return more

    async def _judge_once(self, claim_id: str, work: ClaimWork) -> None:
        if work.verdict is not None:
            return
        work.verdict = await self._judge.judge(work, self.state.requests)
        if work.verdict is not None:
            shown = "holds" if work.verdict.holds else "is FALSE"
            log.info("watcher: claim %s %s: %s", claim_id, shown, work.verdict.reason)

    # events

    async def _follow(self, head: int) -> bool:
        first = self.state.sidechain + 1
        last = min(head, first + BATCH_BLOCKS - 1)
        if last < first:
            return False
        for event in await self._node.bridge_events(first, last, WITHDRAWAL_EVENTS):
            self._on_withdrawal(event)
        for entry in await court_logs(self._node, first, last):
            self._on_court(entry)
        self.state.sidechain = last
        return last < head

    def _on_withdrawal(self, event: BridgeEvent) -> None:
        requests = self.state.requests
        if isinstance(event, WithdrawalRequested):
            requests[str(event.withdrawal_id)] = Request(
                event.asset, event.amount, event.bitcoin_address
            )
        elif isinstance(event, WithdrawalReleased):
            request = requests.get(str(event.withdrawal_id))
            if request is not None:
                request.released_by = event.btc_txid
            self.state.unclaimed_spends.pop(event.btc_txid, None)
        elif isinstance(event, WithdrawalRefunded):
            requests.pop(str(event.withdrawal_id), None)

    def _on_court(self, entry: CourtLog) -> None:
        event = entry.event
        if isinstance(event, court.ClaimRecorded):
            work = work_of(entry)
            if work is None:
                log.error("watcher: claim 0x%s has no Bridge event", event.claim_id.hex())
            else:
                self.state.claims["0x" + event.claim_id.hex()] = work
            return
        if isinstance(event, court.DeficitCovered):
            log.info("watcher: the court covered %d of asset %d", event.amount, event.asset)
            return
        work = self.state.claims.get("0x" + event.claim_id.hex())
        if work is None:
            return  # a claim this watcher no longer follows
        if isinstance(event, court.ChallengeOpened):
            work.status = "challenged"
            work.challenger = event.challenger.lower()
            work.deadline = event.deadline
            work.deficit = event.deficit
            work.evidence = "0x" + event.evidence.hex()
        elif isinstance(event, court.Voted) and event.operator.lower() == self.me:
            work.voted = True
        elif isinstance(event, court.ClaimVoided):
            work.status = "void"
            if work.kind == court.ClaimKind.RELEASE_SIGNATURE:
                self._reopen(str(work.detail["withdrawal_id"]))
            log.info(
                "watcher: claim 0x%s voided: %d sats and %d USDT units slashed",
                event.claim_id.hex(),
                event.btc_slashed,
                event.usdt_slashed,
            )
        elif isinstance(event, court.ChallengeRejected):
            work.status = "stands"
            log.info("watcher: the challenge of claim 0x%s was rejected", event.claim_id.hex())

    def _reopen(self, withdrawal_id: str) -> None:
        """The court voided the claim that this withdrawal was released: it is still owed, so
        the vault spend that pays it later is one a withdrawal asked for."""
        request = self.state.requests.get(withdrawal_id)
        if request is not None:
            request.released_by, request.reopened = None, True
            log.info("watcher: withdrawal %s is owed again: its release was voided", withdrawal_id)

    # Bitcoin

    async def _scan_bitcoin(self) -> None:
        """Vault spends in new blocks that pay what no withdrawal asked."""
        tip = int(await self._rpc.call("getblockcount"))
        if self.state.bitcoin < 0:
            self.state.bitcoin = tip  # vault spends are watched from the first start on
        for height in range(
            self.state.bitcoin + 1, min(tip, self.state.bitcoin + BITCOIN_BATCH) + 1
        ):
            block = await self._rpc.call(
                "getblock", await self._rpc.call("getblockhash", height), 2
            )
            for raw in block["tx"][1:]:
                await self._check_spend(CTransaction.deserialize(bytes.fromhex(raw["hex"])), height)
            self.state.bitcoin = height
        for txid, seen in list(self.state.unclaimed_spends.items()):
            if self.state.bitcoin - seen < UNCLAIMED_ALERT_BLOCKS:
                continue
            del self.state.unclaimed_spends[txid]
            # Asked again: a withdrawal reopened since (its release voided) may be what it paid.
            raw = await self._rpc.call("getrawtransaction", txid)
            if await self._unasked(CTransaction.deserialize(bytes.fromhex(raw))):
                log.critical(
                    "watcher: vault spend %s (block %d) pays what no withdrawal asked and no "
                    "claim names it: no challenge can reach it",
                    txid,
                    seen,
                )

    async def _check_spend(self, tx: CTransaction, height: int) -> None:
        txid = tx.GetTxid()[::-1].hex()
        if any(r.released_by == txid for r in self.state.requests.values()):
            return  # a release claim names it: judged as that claim
        unasked = await self._unasked(tx)
        if unasked:
            log.warning("watcher: vault spend %s pays what no withdrawal asked: %s", txid, unasked)
            self.state.unclaimed_spends[txid] = height

    async def _unasked(self, tx: CTransaction) -> str:
        """What a vault spend pays that no withdrawal asked ("" when nothing, or no vault coin
        is spent); a reopened withdrawal it pays is settled."""
        report = await self._judge.spend_report(tx, self.state.requests)
        if not report.spends_vault:
            return ""
        for key in report.paid:
            if self.state.requests[key].reopened:
                del self.state.requests[key]
        return "; ".join(report.unasked)

    # acting

    async def _act(self, claim_id: str, work: ClaimWork, head: int) -> None:
        verdict = work.verdict
        raw_id = bytes.fromhex(claim_id[2:])
        if work.status == "open":
            if (
                verdict is not None
                and not verdict.holds
                and self._challenge
                and head + 1 < work.closes_at
            ):
                evidence = bytes.fromhex((verdict.evidence or "0x")[2:])
                data = court.challenge_calldata(raw_id, evidence, verdict.deficit)
                await self._do("challenge", claim_id, work, data, await self._bond_wei())
            return
        if work.status != "challenged":
            return
        if work.deadline is None:
            return
        if verdict is not None and head <= work.deadline:
            await self._vote(claim_id, work, verdict)
        # The challenger resolves as soon as the votes allow; anyone once voting has ended
        # (a challenger gone, or a challenge rejected), so one resolve is usually sent, not one
        # per watcher.
        if work.challenger == self.me or head > work.deadline:
            await self._do("resolve", claim_id, None, court.resolve_calldata(raw_id))

    async def _vote(self, claim_id: str, work: ClaimWork, verdict: Verdict) -> None:
        """Vote this watcher's own judgement, once, when its account is an operator not party
        to the claim: false when the claim is and the challenger's deficit is not above its own
        figure."""
        if self.me in work.operators or work.voted or "vote" in work.refused:
            return
        if not await self._is_operator():
            return
        raw_id = bytes.fromhex(claim_id[2:])
        is_false = not verdict.holds and (work.deficit or 0) <= verdict.deficit
        log.info(
            "watcher: voting on claim %s: the challenger's evidence %s; judged here: %s",
            claim_id,
            self._evidence_note(raw_id, work.evidence),
            verdict.reason,
        )
        await self._do("vote", claim_id, work, court.vote_calldata(raw_id, is_false))

    def _evidence_note(self, claim: bytes, posted: str | None) -> str:
        """What the posted evidence says, checked to accuse this claim (the vote is this
        watcher's own judgement of the claim either way, as the court asks of voters)."""
        try:
            evidence = decode_evidence(bytes.fromhex((posted or "0x")[2:]))
        except MalformedEvidence as error:
            return f"does not decode ({error})"
        if evidence_claim_id(evidence, self._sender.chain_id) != claim:
            return f"accuses another claim ({evidence.kind.name.lower()})"
        shown = {k: v for k, v in evidence.describe().items() if k != "raw_transaction"}
        return f"is a {evidence.kind.name.lower()} {shown}"

    async def _do(
        self, kind: str, claim_id: str, work: ClaimWork | None, data: bytes, value: int = 0
    ) -> None:
        """One court call: checked and signed into the state file, sent. `work` None: a refusal
        is only for now (a resolve before voting ends), not remembered."""
        action = f"{kind}:{claim_id}"
        if action in self.state.outbox or (work is not None and kind in work.refused):
            return
        try:
            self.state.outbox[action] = await self._sender.sign_action(action, data, value)
        except CourtRefused as refused:
            if work is not None:
                work.refused[kind] = refused.reason
                log.warning("watcher: %s", refused)
            return
        self._save()
        self._faults.reach(f"after_{kind}_signed")
        await self._deliver(action)

    async def _deliver(self, action: str) -> None:
        pending = self.state.outbox[action]
        receipt = await self._sender.send(pending)
        self._faults.reach(f"after_{action.split(':')[0]}_sent")
        if receipt is None:
            if await self._sender.dropped(pending):
                del self.state.outbox[action]
                self._save()
            return
        del self.state.outbox[action]
        kind, claim_id = action.split(":", 1)
        work = self.state.claims.get(claim_id)
        if not receipt.succeeded and kind == "resolve":
            log.info("watcher: %s reverted (resolved meanwhile by another)", action)
        elif not receipt.succeeded:
            log.warning("watcher: %s reverted in block %d", action, receipt.block_number)
        else:
            log.info("watcher: %s mined in block %d", action, receipt.block_number)
            if kind == "vote" and work is not None:
                work.voted = True
        self._save()

    async def _is_operator(self) -> bool:
        """Whether this watcher's account is an active operator (whose votes the court takes)."""
        data = REGISTRY.calldata("is_active", self.me)
        output = await self._node.eth_call(REGISTRY_ADDRESS, data)
        (active,) = REGISTRY.decode_output("is_active", output)
        return bool(active)

    async def _bond_wei(self) -> int:
        return self._bond or await min_bond(self._node)

    async def _collect_payout(self) -> None:
        data = COURT.calldata("payouts", self.me)
        (owed,) = COURT.decode_output("payouts", await self._node.eth_call(COURT_ADDRESS, data))
        if owed > 0:
            await self._do("withdraw", self.me, None, court.withdraw_payout_calldata())

    # bookkeeping

    def _prune(self, head: int) -> None:
        """Claims nothing more can happen to, and the requests only they needed."""
        pending = {action.split(":", 1)[1] for action in self.state.outbox}
        for claim_id, work in list(self.state.claims.items()):
            closed = work.status == "open" and head >= work.closes_at
            if claim_id not in pending and (closed or work.status in ("void", "stands")):
                del self.state.claims[claim_id]
        named = {str(w.detail.get("btc_txid")) for w in self.state.claims.values()}
        for key, request in list(self.state.requests.items()):
            if request.released_by is not None and request.released_by not in named:
                del self.state.requests[key]

    def _save(self) -> None:
        self.state.save(self._path)
