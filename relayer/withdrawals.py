"""The withdrawal stage: follow the Bridge's withdrawal logs, open each request's challenge
window, move it to `ready` when the window closes unchallenged (held `challenged` while a
fraud-proof challenge is pending in the court), refund what Bitcoin cannot pay.

Checkpoint: the cursor `withdrawals.sidechain` holds the last sidechain block whose logs are in
the ledger (a batch of logs is recorded in one transaction with the cursor, so a kill -9
replays at most that batch, and a replayed request is recognised by its id); the cursor
`withdrawals.bitcoin` holds the Bitcoin height windows were last closed at. Crash points
(`Faults`): after_withdrawals_recorded (a batch holding at least one event was recorded),
after_refund_sent (the coordinator's Bridge.refund was mined, its ledger not yet updated).
"""

import logging

from sqlalchemy.orm import Session, sessionmaker

from bridge.bitcoin.rpc import BitcoinRPC
from bridge.ledger import ChallengeStatus, Ledger, WithdrawalStatus
from relayer.daemon import Faults
from relayer.release_check import SpendChecker
from relayer.release_errors import ReleaseFlowError
from relayer.release_sidechain import BridgeChain, WithdrawalRequest, ordered_signatures
from relayer.signing_client import Federation

log = logging.getLogger(__name__)
CURSOR = "withdrawals.sidechain"
BITCOIN_CURSOR = "withdrawals.bitcoin"
BRIDGE_REQUESTED = 1
BATCH_BLOCKS = 500  # sidechain blocks of logs read per step


class WithdrawalStage:
    name = "withdrawals"

    def __init__(
        self,
        window_blocks: int,
        sessions: sessionmaker[Session],
        rpc: BitcoinRPC,
        chain: BridgeChain,
        checker: SpendChecker,
        federation: Federation,
        faults: Faults | None = None,
    ) -> None:
        self._window_blocks = window_blocks  # W: a request's challenge window, in Bitcoin blocks
        self._sessions = sessions
        self._rpc = rpc
        self._chain = chain
        self._checker = checker
        self._federation = federation
        self._faults = faults or Faults(None)

    async def execute(self) -> bool:
        """One step; True while there is more to do at once (more logs to read)."""
        bitcoin_height = int(await self._rpc.call("getblockcount"))
        more = await self._follow(bitcoin_height)
        self._close_windows(bitcoin_height)
        if self._federation.is_coordinator(bitcoin_height):
            await self._refund_unpayable()
        return more

    def checkpoint(self) -> int | None:
        """The last sidechain block whose withdrawal events are in the ledger."""
        with self._sessions() as session:
            cursor = Ledger(session).cursors.get(CURSOR)
            return None if cursor is None else cursor.position

    async def unwind(self, height: int) -> None:
        """A Bitcoin reorg to `height` changes nothing here: requests come from the sidechain,
        and a window only counts Bitcoin blocks, which the new branch keeps adding."""

    async def _follow(self, bitcoin_height: int) -> bool:
        with self._sessions() as session:
            done = Ledger(session).cursors.position(CURSOR, -1)
        tip = await self._chain.height()
        last = min(tip, done + BATCH_BLOCKS)
        if last <= done:
            return False
        events = await self._chain.withdrawal_events(done + 1, last)
        reasons = {
            e.withdrawal_id: await self._unpayable(e)
            for e in events
            if isinstance(e, WithdrawalRequest)
        }
        with self._sessions.begin() as session:
            ledger = Ledger(session)
            for event in events:
                known = ledger.withdrawals.get(event.withdrawal_id)
                if not isinstance(event, WithdrawalRequest):
                    if known is not None and known.status != WithdrawalStatus.REFUNDED:
                        ledger.withdrawals.mark_refunded(event.withdrawal_id, event.tx_hash)
                    continue
                if known is not None:
                    continue
                self._record(ledger, event, bitcoin_height, reasons[event.withdrawal_id])
            ledger.cursors.set(CURSOR, last)
        if events:
            self._faults.reach("after_withdrawals_recorded")
        return last < tip

    async def _unpayable(self, request: WithdrawalRequest) -> str | None:
        return await self._checker.refund_reason_of(
            request.bitcoin_address, request.asset, request.amount
        )

    def _record(
        self, ledger: Ledger, request: WithdrawalRequest, height: int, reason: str | None
    ) -> None:
        ledger.withdrawals.record_requested(
            withdrawal_id=request.withdrawal_id,
            sender=request.sender,
            asset=request.asset,
            amount=request.amount,
            burned_amount=request.burned_amount,
            bitcoin_address=request.bitcoin_address,
            sidechain_tx_hash=request.tx_hash,
            sidechain_block=request.block_number,
            log_index=request.log_index,
        )
        if reason is not None:
            log.warning("withdrawal %s will be refunded: %s", request.withdrawal_id, reason)
            return  # stays `requested` until the Bridge refunds it
        ledger.withdrawals.open_window(request.withdrawal_id, height, height + self._window_blocks)

    def _close_windows(self, bitcoin_height: int) -> None:
        with self._sessions.begin() as session:
            ledger = Ledger(session)
            close_windows(ledger, bitcoin_height)
            ledger.cursors.set(BITCOIN_CURSOR, bitcoin_height)

    async def _refund_unpayable(self) -> None:
        """Bridge.refund, with m Refund signatures, for each request Bitcoin cannot pay."""
        with self._sessions() as session:
            requested = [
                w.id for w in Ledger(session).withdrawals.with_status(WithdrawalStatus.REQUESTED)
            ]
        member = self._federation.member
        for withdrawal_id in requested:
            if await self._chain.withdrawal_status(withdrawal_id) != BRIDGE_REQUESTED:
                continue
            try:
                own = await member.attest_refund(withdrawal_id)
                body = {"withdrawal_id": withdrawal_id}
                signatures = await self._federation.attest("attest.refund", body, own)
            except ReleaseFlowError as error:
                log.warning("refund of %s not signed: %s", withdrawal_id, error)
                continue
            tx_hash = await self._chain.refund(
                member.keys.evm, withdrawal_id, ordered_signatures(signatures)
            )
            self._faults.reach("after_refund_sent")
            log.info("refunded withdrawal %s on the sidechain: %s", withdrawal_id, tx_hash)


def close_windows(ledger: Ledger, bitcoin_height: int) -> None:
    """Windows closed by `bitcoin_height` make their requests `ready`, unless a challenge is
    pending in the court: the claim it disputes (a deposit, a release, a state root) may be
    false, so every request waits, `challenged`, until the vote; then all go `ready` (a voided
    claim's deficit is covered from the slash, so paying them keeps the vault whole)."""
    pending = ledger.challenges.with_status(ChallengeStatus.SUBMITTED, limit=1)
    status = WithdrawalStatus.CHALLENGED if pending else WithdrawalStatus.READY
    detail = {"challenge_id": pending[0].id} if pending else None
    for withdrawal in ledger.withdrawals.windows_closed_by(bitcoin_height):
        ledger.withdrawals.move(withdrawal.id, status, detail=detail)
    if not pending:
        for withdrawal in ledger.withdrawals.with_status(WithdrawalStatus.CHALLENGED):
            ledger.withdrawals.move(withdrawal.id, WithdrawalStatus.READY)
