"""The commitment stage: every K sidechain blocks (`vault.commitment_interval`), anchor the state
root on Bitcoin.

The anchor is a vault spend of its own (funded by the vault, change back to it) whose only other
output is OP_RETURN b"SLC1" + height (u64) + state root (32 bytes). It goes through the same
signing round as a release (`SpendRunner`, under the federation's spend lock, so the two stages
never pick the same coins), and each member checks the root against its own node before it
signs. The coordinator anchors the newest multiple of K not yet anchored (a member that was
away never re-anchors old heights). The release stage tracks the anchor to the depth, then the
commitment is `confirmed` and its fraud-proof window (claim kind `state_commitment`) opens.
Checkpoint: the ledger's latest commitment. Crash points: after_commitment_signed,
after_commitment_broadcast (in `SpendRunner`), after_commitment_confirmed (in the release
stage's tracking).
"""

import logging

from bitcoin.core import CTxOut
from bitcoin.core.script import CScript
from sqlalchemy.orm import Session, sessionmaker

from bridge.bitcoin.rpc import BitcoinRPC
from bridge.ledger import CommitmentStatus, Ledger
from relayer.daemon import Faults
from relayer.release import SpendRunner
from relayer.release_build import SpendRules, build_spend
from relayer.release_check import CommitmentClaim, SpendProposal, commitment_script
from relayer.release_sidechain import BridgeChain
from relayer.signing_client import Federation
from relayer.vault import Vault

log = logging.getLogger(__name__)


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
        self._runner = SpendRunner(federation, sessions, rpc, faults)

    async def execute(self) -> bool:
        bitcoin_height = int(await self._rpc.call("getblockcount"))
        if not self._federation.is_coordinator(bitcoin_height):
            return False
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
