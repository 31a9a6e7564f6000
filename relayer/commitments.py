"""The commitment stage: every K sidechain blocks (`vault.commitment_interval`), anchor the state
root on Bitcoin, then record the anchored root on the sidechain.

The anchor is a vault spend of its own (funded by the vault, change back to it) whose only other
output is OP_RETURN b"SLC1" + height (u64) + state root (32 bytes). It goes through the same
signing round as a release (`SpendRunner`, under the federation's spend lock, so the two stages
never pick the same coins), and each member checks the root against its own node before it
signs. The coordinator anchors the newest multiple of K not yet anchored (a member that was
away never re-anchors old heights). The release stage tracks the anchor to the depth, then the
commitment is `confirmed`.

The coordinator then records the newest confirmed commitments on the sidechain (those not
recorded yet, of the last `RECORD_LOOKBACK`): m members sign
`Commitment(height, root)` in an `attest.commitment` round (each only if its own ledger holds
that anchor confirmed and its own node has that root) and it sends `Bridge.record_commitment`,
which opens the claim's fraud-proof window in the court (the court stage mirrors it into the
ledger). The Bridge records a height once: before a round the coordinator reads
`Bridge.commitments(height)`, so a member killed after sending never sends twice.
Checkpoint: the ledger's latest commitment. Crash points: after_commitment_signed,
after_commitment_broadcast (in `SpendRunner`), after_commitment_confirmed (in the release
stage's tracking), after_commitment_recorded (the Bridge call mined, nothing noted yet).
"""

import logging

from bitcoin.core import CTxOut
from bitcoin.core.script import CScript
from sqlalchemy.orm import Session, sessionmaker

from bridge.bitcoin.rpc import BitcoinRPC
from bridge.ledger import ClaimKind, CommitmentStatus, Ledger
from relayer.daemon import Faults
from relayer.release import SpendRunner
from relayer.release_build import SpendRules, build_spend
from relayer.release_check import CommitmentClaim, SpendProposal, commitment_script
from relayer.release_errors import ReleaseFlowError
from relayer.release_sidechain import BridgeChain, ordered_signatures
from relayer.signing_client import Federation
from relayer.vault import Vault
from restaking.commitment import Commitment

log = logging.getLogger(__name__)
RECORD_LOOKBACK = 3  # the newest confirmed commitments a coordinator records when missing


class CommitmentStage:
    name = "commitments"

    def __init__(
        self,
        rules: SpendRules,
        sessions: sessionmaker[Session],
        rpc: BitcoinRPC,
        vault: Vault,
        federation: Federation,
        chain: BridgeChain,
        faults: Faults | None = None,
    ) -> None:
        self._rules = rules
        self._sessions = sessions
        self._rpc = rpc
        self._vault = vault
        self._federation = federation
        self._chain = chain
        self._faults = faults or Faults(None)
        self._runner = SpendRunner(federation, sessions, rpc, self._faults)

    async def execute(self) -> bool:
        bitcoin_height = int(await self._rpc.call("getblockcount"))
        if not self._federation.is_coordinator(bitcoin_height) or self._federation.member.paused():
            return False
        recorded = await self.record()
        return await self._anchor_next() or recorded

    async def _anchor_next(self) -> bool:
        interval = self._vault.policy.commitment_interval
        height = (await self._chain.height()) // interval * interval
        with self._sessions() as session:
            ledger = Ledger(session)
            latest = ledger.commitments.latest()
        if height == 0:
            return False
        if latest is not None and (
            latest.sidechain_height > height
            or (latest.sidechain_height == height and latest.status != CommitmentStatus.PENDING)
        ):
            return False
        root = await self._chain.state_root(height)
        if root is None:
            return False
        async with self._federation.spend_lock:
            return await self.anchor(height, root)

    async def anchor(self, height: int, state_root: str) -> bool:
        """Build, sign and broadcast the SLC1 anchor of `state_root` at sidechain `height`."""
        vault = await self._vault.coins()
        output = CTxOut(0, CScript(commitment_script(height, bytes.fromhex(state_root[2:]))))
        plan = build_spend(
            [],
            vault.funding,
            self._vault.settings.change,
            await self._vault.fee_rate(),
            self._rules,
            extra_outputs=[output],
        )
        claim = CommitmentClaim(height, state_root)
        proposal = SpendProposal(plan.psbt, (), plan.fee_rate, None, claim)
        txid = await self._runner.run(proposal)
        if txid is not None:
            log.info("anchored state root %s of height %d in %s", state_root, height, txid)
        return txid is not None

    async def record(self) -> bool:
        """Record the newest confirmed commitments on the sidechain, those not there yet."""
        with self._sessions() as session:
            ledger = Ledger(session)
            newest = ledger.commitments.page(
                status=CommitmentStatus.CONFIRMED, limit=RECORD_LOOKBACK
            ).items
            unrecorded = [
                (c.sidechain_height, c.state_root)
                for c in reversed(newest)
                if not ledger.claims.for_subject(
                    ClaimKind.STATE_COMMITMENT, str(c.sidechain_height)
                )
            ]
        recorded = False
        for height, root in unrecorded:
            recorded |= await self._record_one(height, root)
        return recorded

    async def _record_one(self, height: int, root: str) -> bool:
        on_chain = await self._chain.commitment(height)
        if on_chain is not None:
            if on_chain != root:
                log.error(
                    "the Bridge holds %s as the state root of height %d; the federation "
                    "anchored %s: a false commitment, for the watchers to challenge",
                    on_chain,
                    height,
                    root,
                )
            return False  # recorded (the court stage has not mirrored it yet)
        member = self._federation.member
        try:
            own = await member.attest_commitment(height, root)
            body = {"height": height, "state_root": root}
            signatures = await self._federation.attest("attest.commitment", body, own)
        except ReleaseFlowError as error:  # a peer not at the depth yet: next step
            log.info("commitment of height %d not yet signed: %s", height, error)
            return False
        commitment = Commitment(height, bytes.fromhex(root.removeprefix("0x")))
        tx_hash = await self._chain.record_commitment(
            member.keys.evm, commitment, ordered_signatures(signatures)
        )
        self._faults.reach("after_commitment_recorded")
        log.info("recorded the state root of height %d on the sidechain: %s", height, tx_hash)
        return True

    def checkpoint(self) -> int | None:
        """The highest sidechain height recorded for anchoring."""
        with self._sessions() as session:
            latest = Ledger(session).commitments.latest()
            return None if latest is None else latest.sidechain_height

    async def unwind(self, height: int) -> None:
        """A Bitcoin reorg below `height`: anchors confirmed above it are tracked again."""
        with self._sessions.begin() as session:
            ledger = Ledger(session)
            for row in ledger.commitments.with_status(CommitmentStatus.CONFIRMED):
                if row.bitcoin_block_height is not None and row.bitcoin_block_height > height:
                    ledger.commitments.move(row.sidechain_height, CommitmentStatus.BROADCAST)
