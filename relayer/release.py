"""The release stage: batch ready withdrawals into vault spends, sign them m-of-n, broadcast them,
bump them by RBF when stuck, track every vault spend to the depth, and tell the Bridge.

Batching is per asset. BTC withdrawals are batched: one release pays every ready one (up to
`vault.max_batch`). USDT moves by an Omni class C simple send, which carries one amount to one
reference output, so a release carries at most one USDT payout; several ready USDT withdrawals
go out in one release each in the same step, each sent from a different vault address (the
sender's anchor coin is spent by the first send, and its new anchor is unconfirmed until the
next block). The first release of a step carries the BTC batch and the first USDT payout.

Every vault spend is a `releases` row (a state commitment's anchor is one with no payments),
so one tracker follows them all. Only the coordinator of the current Bitcoin height builds,
bumps and tells the sidechain; every member tracks what it signed. Checkpoint: the ledger's
statuses are what a killed member resumes from; the cursor `releases.bitcoin` is the Bitcoin
height last tracked, and `releases.sidechain_told_at` marks a release the Bridge was told of.
Crash points (`Faults`): after_release_signed, after_release_broadcast (and
after_commitment_signed, after_commitment_broadcast for anchors, which share `SpendRunner`),
after_release_told, after_commitment_confirmed.
"""

import logging

from bitcoin.core import CTxOut, b2lx
from sqlalchemy.orm import Session, sessionmaker

from bridge.bitcoin.deposit_script import DepositScript
from bridge.bitcoin.errors import BitcoinRPCError
from bridge.bitcoin.rpc import BitcoinRPC
from bridge.ledger import (
    Asset,
    CommitmentStatus,
    Ledger,
    ReleaseStatus,
    Withdrawal,
    WithdrawalStatus,
)
from relayer.daemon import Faults
from relayer.release_build import (
    INCREMENTAL_FEE,
    Payout,
    SpendPlan,
    SpendRules,
    UsdtSource,
    VaultCoin,
    build_spend,
)
from relayer.release_check import (
    CommitmentClaim,
    SpendProposal,
    address_scripts,
    decode_commitment,
)
from relayer.release_errors import ReleaseFlowError
from relayer.release_psbt import Psbt
from relayer.release_sidechain import BridgeChain, ordered_signatures
from relayer.signing import (
    finalize,
    follow_sent,
    mark_broadcast,
    proposal_to_json,
    stored_proposal,
)
from relayer.signing_client import Federation
from relayer.vault import Vault

log = logging.getLogger(__name__)
NOT_FOUND = -5
RPC_VERIFY_ERROR = -25  # missing or spent inputs
RPC_VERIFY_REJECTED = -26  # refused by policy or consensus (e.g. a conflict it will not replace)
RPC_VERIFY_ALREADY_IN_CHAIN = -27
BRIDGE_REQUESTED = 1
CURSOR = "releases.bitcoin"


class SpendRunner:
    """Coordinator side of one vault spend: sign round, finalise, broadcast, announce."""

    def __init__(
        self,
        federation: Federation,
        sessions: sessionmaker[Session],
        rpc: BitcoinRPC,
        faults: Faults | None = None,
    ) -> None:
        self._federation = federation
        self._sessions = sessions
        self._rpc = rpc
        self._faults = faults or Faults(None)

    async def run(self, proposal: SpendProposal) -> str | None:
        """The broadcast txid, or None when the round failed (the spend is then abandoned)."""
        kind = "release" if proposal.commitment is None else "commitment"
        try:
            psbt = await self._federation.sign_spend(proposal)
        except ReleaseFlowError as error:
            if await self._sent_already(proposal):  # the peers refused: it is out already
                return proposal.txid
            log.warning("spend %s not signed: %s", proposal.txid, error)
            self._abandon(proposal.txid, str(error))
            return None
        self._faults.reach(f"after_{kind}_signed")
        tx = finalize(psbt)
        raw = tx.serialize().hex()
        with self._sessions.begin() as session:
            ledger = Ledger(session)
            if ledger.releases.require(proposal.txid).status == ReleaseStatus.SIGNING:
                ledger.releases.move(proposal.txid, ReleaseStatus.SIGNED)
        if not await self._send(proposal.txid, raw):
            return None
        self._faults.reach(f"after_{kind}_broadcast")
        height = int(await self._rpc.call("getblockcount"))
        commitment = None if proposal.commitment is None else proposal.commitment.height
        with self._sessions.begin() as session:
            mark_broadcast(Ledger(session), proposal.txid, raw, height, commitment)
        signed = SpendProposal(
            psbt, proposal.payments, proposal.fee_rate, proposal.replaces, proposal.commitment
        )
        await self._federation.announce(
            {**proposal_to_json(signed), "raw_tx": raw, "height": height}
        )
        log.info("broadcast vault spend %s (%d payments)", proposal.txid, len(proposal.payments))
        return proposal.txid

    async def resume(self) -> bool:
        """Finish the spends a crash left between recording and broadcast (kill -9 safe):
        the round is run again (members re-sign what they recorded) and the spend sent."""
        with self._sessions() as session:
            ledger = Ledger(session)
            unfinished = [
                stored_proposal(ledger, r.txid)
                for r in ledger.releases.with_status(
                    ReleaseStatus.BUILDING, ReleaseStatus.SIGNING, ReleaseStatus.SIGNED
                )
            ]
        for proposal in unfinished:
            if not await self._sent_already(proposal):
                await self.run(proposal)
        return bool(unfinished)

    async def _sent_already(self, proposal: SpendProposal) -> bool:
        """bitcoind has the spend (another coordinator sent it while this member was away or
        before it heard): followed as broadcast, nothing signed or sent again."""
        raw = await self._raw_of(proposal.txid)
        if raw is None:
            return False
        height = int(await self._rpc.call("getblockcount"))
        with self._sessions.begin() as session:
            follow_sent(Ledger(session), proposal, raw, height)
        log.info("vault spend %s is out already: following it", proposal.txid)
        return True

    async def _send(self, txid: str, raw: str) -> bool:
        """Broadcast; True if bitcoind has it (now or already). A spend whose coins are gone
        (spent by a conflicting transaction) is abandoned."""
        try:
            await self._rpc.call("sendrawtransaction", raw)
            return True
        except BitcoinRPCError as error:
            if error.code == RPC_VERIFY_ALREADY_IN_CHAIN or await self._raw_of(txid) is not None:
                return True
            if error.code not in (RPC_VERIFY_ERROR, RPC_VERIFY_REJECTED):
                raise
            log.warning("spend %s cannot be broadcast: %s", txid, error)
            self._abandon(txid, str(error))
            return False

    async def _raw_of(self, txid: str) -> str | None:
        """The transaction as bitcoind has it (mempool or chain), None if it has not."""
        try:
            return str(await self._rpc.call("getrawtransaction", txid, False))
        except BitcoinRPCError as error:
            if error.code != NOT_FOUND:
                raise
            return None

    def _abandon(self, txid: str, reason: str) -> None:
        with self._sessions.begin() as session:
            ledger = Ledger(session)
            release = ledger.releases.get(txid)
            if release is not None and release.status in (
                ReleaseStatus.BUILDING,
                ReleaseStatus.SIGNING,
                ReleaseStatus.SIGNED,
            ):
                ledger.releases.abandon(txid, reason)


class ReleaseStage:
    """execute(): track spends, bump stuck ones, tell the Bridge, release ready withdrawals."""

    name = "releases"

    def __init__(
        self,
        confirmations: int,
        rules: SpendRules,
        sessions: sessionmaker[Session],
        rpc: BitcoinRPC,
        vault: Vault,
        federation: Federation,
        chain: BridgeChain,
        faults: Faults | None = None,
    ) -> None:
        self._confirmations = confirmations  # a spend is final (and the Bridge told) this deep
        self._policy = vault.policy
        self._rules = rules
        self._sessions = sessions
        self._rpc = rpc
        self._vault = vault
        self._federation = federation
        self._chain = chain
        self._faults = faults or Faults(None)
        self._runner = SpendRunner(federation, sessions, rpc, self._faults)

    async def execute(self) -> bool:
        tip = int(await self._rpc.call("getblockcount"))
        did = await self._track(tip)
        with self._sessions.begin() as session:
            Ledger(session).cursors.set(CURSOR, tip)
        if not self._federation.is_coordinator(tip) or self._federation.member.paused():
            return did
        async with self._federation.spend_lock:
            did |= await self._runner.resume()
            did |= await self._bump_stuck(tip)
            did |= await self._release_ready()
        did |= await self._tell_bridge()
        return did

    def checkpoint(self) -> int | None:
        """The Bitcoin height the vault spends were last tracked at."""
        with self._sessions() as session:
            cursor = Ledger(session).cursors.get(CURSOR)
            return None if cursor is None else cursor.position

    async def unwind(self, height: int) -> None:
        """A Bitcoin reorg below `height`: confirmed depth is recounted by the next `_track`."""
        with self._sessions.begin() as session:
            ledger = Ledger(session)
            for release in ledger.releases.with_status(ReleaseStatus.BROADCAST):
                if release.block_height is not None and release.block_height > height:
                    ledger.releases.set_confirmations(release.txid, 0, None, None)

    async def _track(self, tip: int) -> bool:
        did = False
        with self._sessions() as session:
            broadcast = [
                r.txid for r in Ledger(session).releases.with_status(ReleaseStatus.BROADCAST)
            ]
        for txid in broadcast:
            try:
                info = await self._rpc.call("getrawtransaction", txid, True)
            except BitcoinRPCError as error:
                if error.code != NOT_FOUND:
                    raise
                continue  # replaced by a bump this member has not heard of yet, or evicted
            depth = int(info.get("confirmations", 0))
            block_hash = info.get("blockhash")
            height = None if block_hash is None else tip - depth + 1
            anchored = False
            with self._sessions.begin() as session:
                ledger = Ledger(session)
                if depth >= self._confirmations and block_hash is not None:
                    ledger.releases.mark_confirmed(
                        txid, block_height=height or 0, block_hash=block_hash, confirmations=depth
                    )
                    anchored = self._on_confirmed(ledger, txid, height or 0)
                    did = True
                else:
                    ledger.releases.set_confirmations(txid, depth, height, block_hash)
            if anchored:
                self._faults.reach("after_commitment_confirmed")
        return did

    def _on_confirmed(self, ledger: Ledger, txid: str, height: int) -> bool:
        """A commitment anchor confirmed marks its commitment confirmed too (True). (A release's
        or a commitment's fraud-proof window opens when the sidechain records it: the court
        stage mirrors the court's claims.)"""
        release = ledger.releases.require(txid)
        psbt = Psbt.from_base64(release.psbt or "")
        anchored = [decode_commitment(bytes(out.scriptPubKey)) for out in psbt.tx.vout]
        heights = [decoded[0] for decoded in anchored if decoded is not None]
        for commitment in heights:
            ledger.commitments.mark_confirmed(
                commitment, bitcoin_block_height=height, confirmations=release.confirmations
            )
        return bool(heights)

    async def _bump_stuck(self, tip: int) -> bool:
        with self._sessions() as session:
            ledger = Ledger(session)
            stuck = [
                r
                for r in ledger.releases.with_status(ReleaseStatus.BROADCAST)
                if r.confirmations == 0
                and r.broadcast_height is not None
                and tip - r.broadcast_height >= self._policy.rbf_after_blocks
            ]
            work = [
                (r.txid, r.psbt or "", r.fee_rate, r.fee, list(ledger.releases.withdrawals(r.txid)))
                for r in stuck
            ]
            claims = {
                c.bitcoin_txid: CommitmentClaim(c.sidechain_height, c.state_root)
                for c in ledger.commitments.with_status(CommitmentStatus.BROADCAST)
            }
        did = False
        for txid, psbt_text, old_rate, old_fee, withdrawals in work:
            old = Psbt.from_base64(psbt_text)
            rate = min(
                self._policy.max_fee_rate,
                max(
                    await self._vault.fee_rate(),
                    old_rate * self._policy.rbf_bump_percent // 100,
                    old_rate + INCREMENTAL_FEE,
                ),
            )
            if rate <= old_rate:  # at the ceiling the members sign: it waits as it is
                continue
            coins = [_coin_of(old, i) for i in range(len(old.inputs))]
            usdt = None
            if any(w.asset == Asset.USDT for w in withdrawals):
                keeps = bytes(old.tx.vout[0].scriptPubKey) == coins[0].deposit.script_pubkey
                usdt = UsdtSource(coins[0], keeps_balance=keeps)
            claim = claims.get(txid)
            extra = [] if claim is None else [_commitment_output(old)]
            vault = await self._vault.coins()
            plan = build_spend(
                await self._payouts(withdrawals),
                vault.funding,
                self._vault.settings.change,
                rate,
                self._rules,
                usdt=usdt,
                extra_outputs=extra,
                required=coins,
                replaced_fee=old_fee,
            )
            log.info("bumping %s (%d sat/kvB) with %s (%d)", txid, old_rate, plan.txid, rate)
            did |= (
                await self._runner.run(_proposal(plan, replaces=txid, commitment=claim)) is not None
            )
        return did

    async def _tell_bridge(self) -> bool:
        """Bridge.mark_released, with m Release signatures, for each confirmed release."""
        with self._sessions() as session:
            ledger = Ledger(session)
            pending = [
                (r.txid, [w.id for w in ledger.releases.withdrawals(r.txid)])
                for r in ledger.releases.untold()
            ]
        did = False
        for txid, withdrawal_ids in pending:
            try:
                for withdrawal_id in withdrawal_ids:
                    await self._tell_one(withdrawal_id, txid)
            except ReleaseFlowError as error:  # a peer not at the depth yet: next step
                log.info("release %s not yet recorded on the sidechain: %s", txid, error)
                continue
            with self._sessions.begin() as session:
                Ledger(session).releases.mark_told(txid)
            did = True
        return did

    async def _tell_one(self, withdrawal_id: str, txid: str) -> None:
        if await self._chain.withdrawal_status(withdrawal_id) != BRIDGE_REQUESTED:
            return
        own = await self._federation.member.attest_release(withdrawal_id, txid)
        body = {"withdrawal_id": withdrawal_id, "btc_txid": txid}
        signatures = await self._federation.attest("attest.release", body, own)
        await self._chain.mark_released(
            self._federation.member.keys.evm, withdrawal_id, txid, ordered_signatures(signatures)
        )
        self._faults.reach("after_release_told")

    async def _release_ready(self) -> bool:
        """Pay the ready withdrawals, batched per asset (see the module docstring)."""
        did = False
        senders: set[str] = set()  # addresses already sending USDT in this step
        while True:
            with self._sessions() as session:
                ready = list(
                    Ledger(session).withdrawals.with_status(
                        WithdrawalStatus.READY, limit=self._policy.max_batch
                    )
                )
            vault = await self._vault.coins()
            batch = [w for w in ready if w.asset == Asset.BTC]
            usdt = None
            for candidate in (w for w in ready if w.asset == Asset.USDT):
                usdt = vault.usdt_source(candidate.amount, exclude=senders)
                if usdt is not None:
                    batch.append(candidate)
                    senders.add(usdt.anchor.deposit.address(self._vault.settings.network))
                    break
            if not batch:
                if any(w.asset == Asset.USDT for w in ready):
                    log.info("ready USDT withdrawals wait for a vault address that can send them")
                return did
            plan = build_spend(
                await self._payouts(batch),
                vault.funding,
                self._vault.settings.change,
                await self._vault.fee_rate(),
                self._rules,
                usdt=usdt,
            )
            if await self._runner.run(_proposal(plan)) is None:
                return did
            did = True

    async def _payouts(self, withdrawals: list[Withdrawal]) -> list[Payout]:
        scripts = await address_scripts(self._rpc, (w.bitcoin_address for w in withdrawals))
        payouts = []
        for w in withdrawals:
            script = scripts[w.bitcoin_address]
            if script is None:  # ready means payable: the withdrawal stage checked it
                raise ValueError(f"withdrawal {w.id} has no valid address")
            payouts.append(Payout(w.id, Asset(w.asset), w.amount, script))
        return payouts


def _proposal(
    plan: SpendPlan, replaces: str | None = None, commitment: CommitmentClaim | None = None
) -> SpendProposal:
    return SpendProposal(plan.psbt, plan.payments, plan.fee_rate, replaces, commitment)


def _coin_of(psbt: Psbt, index: int) -> VaultCoin:
    prevout = psbt.tx.vin[index].prevout
    entry = psbt.inputs[index]
    deposit = DepositScript.parse(entry.witness_script)
    return VaultCoin(b2lx(prevout.hash), prevout.n, entry.witness_utxo.nValue, deposit)


def _commitment_output(psbt: Psbt) -> CTxOut:
    (out,) = (o for o in psbt.tx.vout if decode_commitment(bytes(o.scriptPubKey)) is not None)
    return out
