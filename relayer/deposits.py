"""The deposit stage: scan Bitcoin, attest deposits at the depth, submit them, record the mints.

One `execute()` step, each part committed before the next (the crash points in brackets):
1. the scanner follows bitcoind to its tip, `confirmed` at the depth    [after_scan]
2. Deposited events of the Bridge since the cursor `deposits.sidechain` are stored
   (`sidechain_mints`, whether or not this ledger holds the deposit yet), and every
   `confirmed` or `attested` deposit with a stored mint becomes `minted` (mint tx hash,
   block), in one transaction with the cursor                           [after_mint]
3. unless deposits are paused: each `confirmed` deposit is signed with the member's EVM key,
   the signature stored and the deposit moved to `attested`, in one transaction [after_attest]
4. every `attested` deposit is (re)submitted to the node, at most every `resubmit_after`
   seconds; "already minted" means its Deposited event is, or will be, read in step 2
                                                                        [after_submit]
Each Deposited event is read once: a deposit that reaches the depth here after its mint (the
other members were quicker) finds the mint in `sidechain_mints`, never by rescanning the chain.

Restart safety: everything the member did is in its ledger; a re-signed attestation is the
same bytes (RFC 6979); the node keeps attestations across restarts and the Bridge mints a
deposit id once, so a replay can never mint twice. A reorg shallower than the depth never
reaches step 3 (the scanner confirms only at the depth); one that removes a deposit already
past the depth pauses deposits (`ledger.pause`, an audit row, an error log).
"""

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from eth_utils import to_canonical_address
from sqlalchemy.orm import Session, sessionmaker

from bridge.bitcoin.scanner import DepositScanner
from bridge.ledger import Asset, Deposit, DepositStatus, Ledger, SidechainMint
from relayer.daemon import Faults
from relayer.errors import AttestationRefused
from relayer.keys import MemberKeys
from relayer.node_client import Deposited, NodeClient
from sidechain.attestation import Attestation, sign_attestation
from sidechain.predeploys import BRIDGE_ADDRESS
from sidechain.system_tx import ASSET_BTC, ASSET_USDT

log = logging.getLogger(__name__)
CURSOR = "deposits.sidechain"
SIGNATURE_KIND = "deposit_attestation"
ASSET_CODES = {Asset.BTC: ASSET_BTC, Asset.USDT: ASSET_USDT}
ASSETS = {code: asset for asset, code in ASSET_CODES.items()}
_PAST_DEPTH = (DepositStatus.CONFIRMED, DepositStatus.ATTESTED, DepositStatus.MINTED)

OnReorg = Callable[[int], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class DepositSettings:
    resubmit_after: float = 5.0  # seconds before an unminted attestation is sent again
    event_batch_blocks: int = 1000  # sidechain blocks of Deposited logs read per step
    attest_batch: int = 500  # deposits signed per ledger transaction
    submit_concurrency: int = 16


class AttestationSigner:
    """Turns a ledger deposit into the member's signed EIP-712 attestation."""

    def __init__(self, keys: MemberKeys, chain_id: int) -> None:
        self.keys = keys
        self._chain_id = chain_id

    def sign(self, deposit: Deposit) -> tuple[Attestation, bytes]:
        attestation = attestation_of(deposit)
        signature = sign_attestation(
            attestation, self.keys.evm_private_key, self._chain_id, BRIDGE_ADDRESS
        )
        return attestation, signature


def attestation_of(deposit: Deposit) -> Attestation:
    return Attestation(
        txid=bytes.fromhex(deposit.txid),
        vout=deposit.vout,
        asset=ASSET_CODES[Asset(deposit.asset)],
        amount=deposit.amount,
        recipient=to_canonical_address(deposit.recipient),
    )


class PausingScanner(DepositScanner):
    """The scanner, plus: a reorg removing a deposit past the depth pauses deposits first."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reorgs: list[int] = []  # fork heights seen, for the daemon to pass on

    def unwind(self, to_height: int) -> None:
        with self._sessions.begin() as session:
            ledger = Ledger(session)
            tip = ledger.blocks.tip()
            above = 0 if tip is None else max(0, tip.height - to_height)
            hashes = [block.hash for block in ledger.blocks.recent(above)]
            deep = [d.id for d in ledger.deposits.in_blocks(hashes) if d.status in _PAST_DEPTH]
            if deep:
                # The pause reason is short (the ledger keeps 200 chars): the ids go to the audit.
                reason = (
                    f"Bitcoin reorg to height {to_height} removed {len(deep)} deposit(s) "
                    f"past the confirmation depth"
                )
                log.error("deposits paused: %s: %s", reason, ", ".join(deep))
                ledger.pause.set(True, reason)
                ledger.audit.append(
                    "bridge", "deposits", "deep_reorg", detail={"height": to_height, "ids": deep}
                )
        super().unwind(to_height)
        self.reorgs.append(to_height)


class DepositLoop:
    """The deposit flow as a daemon loop (see the module docstring)."""

    name = "deposits"

    def __init__(
        self,
        scanner: PausingScanner,
        sessions: sessionmaker[Session],
        node: NodeClient,
        signer: AttestationSigner,
        settings: DepositSettings,
        faults: Faults,
        on_reorg: OnReorg | None = None,
    ) -> None:
        self._scanner = scanner
        self._sessions = sessions
        self._node = node
        self._signer = signer
        self._settings = settings
        self._faults = faults
        self._on_reorg = on_reorg
        self._submitted_at: dict[str, float] = {}
        self._was_paused = False

    def checkpoint(self) -> int | None:
        ref = self._scanner.checkpoint()
        return None if ref is None else ref.height

    async def unwind(self, height: int) -> None:
        self._scanner.unwind(height)

    async def execute(self) -> bool:
        scan = await self._scanner.execute()
        while self._scanner.reorgs:
            height = self._scanner.reorgs.pop(0)
            if self._on_reorg is not None:
                await self._on_reorg(height)
        self._faults.reach("after_scan")
        more = await self._follow_mints()
        if self._paused():
            return more or not scan.done
        self._attest_confirmed()
        await self._submit_attested()
        return more or not scan.done

    # -- pause -------------------------------------------------------------------------------

    def _paused(self) -> bool:
        with self._sessions() as session:
            state = Ledger(session).pause.state()
        if state.paused != self._was_paused:
            if state.paused:
                log.error("deposits: paused, not attesting (%s)", state.reason)
            else:
                log.info("deposits: resumed")
            self._was_paused = state.paused
        return state.paused

    # -- attest ------------------------------------------------------------------------------

    def _attest_confirmed(self) -> None:
        with self._sessions.begin() as session:
            ledger = Ledger(session)
            confirmed = ledger.deposits.with_status(
                DepositStatus.CONFIRMED, limit=self._settings.attest_batch
            )
            for deposit in confirmed:
                self._attest(ledger, deposit)
        if confirmed:
            log.info("deposits: attested %d deposit(s)", len(confirmed))
            self._faults.reach("after_attest")

    def _attest(self, ledger: Ledger, deposit: Deposit) -> bytes:
        _, signature = self._signer.sign(deposit)
        ledger.signatures.add(SIGNATURE_KIND, deposit.id, self._signer.keys.address, signature)
        ledger.deposits.move(deposit.id, DepositStatus.ATTESTED)
        return signature

    # -- submit ------------------------------------------------------------------------------

    async def _submit_attested(self) -> None:
        now = time.monotonic()
        with self._sessions() as session:
            ledger = Ledger(session)
            due = [
                (deposit, self._signature(ledger, deposit))
                for deposit in ledger.deposits.with_status(DepositStatus.ATTESTED)
                if now - self._submitted_at.get(deposit.id, -1e18) >= self._settings.resubmit_after
            ]
        if not due:
            return
        gate = asyncio.Semaphore(self._settings.submit_concurrency)

        async def submit(deposit: Deposit, signature: bytes) -> None:
            async with gate:
                try:
                    await self._node.submit_attestation(attestation_of(deposit), signature)
                except AttestationRefused as refusal:
                    if not refusal.already_minted:  # minted: its event reaches _follow_mints
                        log.error("deposits: node refused %s: %s", deposit.id, refusal.message)
                self._submitted_at[deposit.id] = time.monotonic()

        await asyncio.gather(*(submit(d, s) for d, s in due))
        self._faults.reach("after_submit")

    def _signature(self, ledger: Ledger, deposit: Deposit) -> bytes:
        stored = ledger.signatures.find(SIGNATURE_KIND, deposit.id, self._signer.keys.address)
        return self._signer.sign(deposit)[1] if stored is None else stored.signature

    # -- mints -------------------------------------------------------------------------------

    async def _follow_mints(self) -> bool:
        """Store the Deposited events after the cursor and apply every stored mint to the
        deposits now at the depth here; True when more blocks are waiting."""
        with self._sessions() as session:
            start = Ledger(session).cursors.position(CURSOR, -1) + 1
        head = await self._node.block_number()
        end = min(head, start + self._settings.event_batch_blocks - 1)
        events = [] if start > head else await self._node.bridge_events(start, end, ["Deposited"])
        marked = 0
        with self._sessions.begin() as session:
            ledger = Ledger(session)
            for event in events:
                if isinstance(event, Deposited):
                    ledger.mints.record(
                        deposit_id=event.deposit_id,
                        asset=ASSETS[event.asset],
                        amount=event.amount,
                        recipient=event.recipient,
                        tx_hash=event.at.tx_hash,
                        block_number=event.at.block_number,
                    )
            for deposit, mint in ledger.mints.awaiting():
                marked += self._record_mint(ledger, deposit, mint)
            if start <= head:
                ledger.cursors.set(CURSOR, end)
        if marked:
            log.info("deposits: recorded %d mint(s)", marked)
            self._faults.reach("after_mint")
        return end < head

    def _record_mint(self, ledger: Ledger, deposit: Deposit, mint: SidechainMint) -> int:
        expected = attestation_of(deposit)
        if (Asset(deposit.asset), expected.amount, "0x" + expected.recipient.hex()) != (
            mint.asset,
            mint.amount,
            mint.recipient,
        ):
            log.error(
                "deposits: mint of %s differs from the ledger (asset %s amount %s to %s)",
                deposit.id,
                mint.asset,
                mint.amount,
                mint.recipient,
            )
            return 0
        if deposit.status is DepositStatus.CONFIRMED:
            self._attest(ledger, deposit)  # we saw it at the depth too: our signature stands
        ledger.deposits.mark_minted(deposit.id, mint.tx_hash, mint.block_number)
        self._submitted_at.pop(deposit.id, None)
        return 1
