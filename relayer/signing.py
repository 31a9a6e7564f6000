"""A member's side of a signing round: check a proposal against its own ledger, record it, sign.

The same `SigningMember` serves peers over HTTP (`relayer.signing_server`) and the coordinator
itself, so the coordinator's own signature goes through exactly the checks a peer applies.
Peer messages are JSON envelopes signed by the sender's EVM key (`seal` / `unseal`), checked
against the peer list, with a freshness window and a size limit.
"""

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bitcoin.core import CMutableTransaction, CTransaction, CTxInWitness, CTxWitness
from eth_account import Account
from eth_account.messages import encode_defunct
from sqlalchemy.orm import Session, sessionmaker

from bridge.bitcoin.deposit_script import DepositScript
from bridge.bitcoin.deposit_spend import federation_witness, sign_digest, signature_hash
from bridge.bitcoin.rpc import BitcoinRPC
from bridge.bitcoin.script_errors import DepositScriptError
from bridge.ledger import (
    CommitmentStatus,
    Ledger,
    ReleasePayment,
    ReleaseStatus,
    WithdrawalStatus,
)
from relayer.keys import MemberKeys
from relayer.release_check import (
    CommitmentClaim,
    SpendChecker,
    SpendProposal,
    decode_commitment,
)
from relayer.release_errors import BadPeerMessage, ReleaseRefused
from relayer.release_psbt import Psbt
from restaking.commitment import Commitment
from sidechain.attestation import Refund, sign_attestation
from sidechain.attestation import Release as ReleaseMessage

log = logging.getLogger(__name__)
MAX_MESSAGE_BYTES = 1_000_000
MAX_MESSAGE_AGE_S = 120
MAX_ANNOUNCED_ADDRESSES = 500
SPEND_SUBJECT = "vault_spend"


@dataclass(frozen=True)
class Peer:
    """Another member: its EVM address (who signs its messages) and its signing server URL."""

    address: str
    url: str


@dataclass(frozen=True)
class BridgeDomain:
    """Where the Bridge's EIP-712 signatures are valid."""

    chain_id: int
    bridge_address: bytes


def seal(kind: str, body: Mapping[str, Any], keys: MemberKeys, now: float | None = None) -> bytes:
    """A JSON envelope {sender, at, kind, body, signature}; the signature covers the rest."""
    content = {"sender": keys.address, "at": int(now or time.time()), "kind": kind, "body": body}
    signed = keys.evm.sign_message(encode_defunct(_canonical(content)))
    return json.dumps({**content, "signature": signed.signature.hex()}).encode()


def unseal(
    raw: bytes, senders: set[str], now: float | None = None
) -> tuple[str, str, dict[str, Any]]:
    """(sender, kind, body) of an envelope from one of `senders`; `BadPeerMessage` otherwise."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise BadPeerMessage(f"message of {len(raw)} bytes is over {MAX_MESSAGE_BYTES}")
    try:
        message = json.loads(raw)
        content = {k: message[k] for k in ("sender", "at", "kind", "body")}
        signature = bytes.fromhex(str(message["signature"]).removeprefix("0x"))
        signer = Account.recover_message(encode_defunct(_canonical(content)), signature=signature)
    except (ValueError, KeyError, TypeError) as error:
        raise BadPeerMessage(f"malformed envelope: {error}") from error
    sender = str(content["sender"]).lower()
    if signer.lower() != sender or sender not in senders:
        raise BadPeerMessage(f"sender {sender} is not a federation peer (signed by {signer})")
    age = abs((now or time.time()) - int(content["at"]))
    if age > MAX_MESSAGE_AGE_S:
        raise BadPeerMessage(f"message is {age:.0f}s old, the limit is {MAX_MESSAGE_AGE_S}s")
    if not isinstance(content["body"], dict):
        raise BadPeerMessage("message body is not an object")
    return sender, str(content["kind"]), content["body"]


def _canonical(content: Mapping[str, Any]) -> bytes:
    return json.dumps(content, sort_keys=True, separators=(",", ":")).encode()


def proposal_to_json(proposal: SpendProposal) -> dict[str, Any]:
    commitment = proposal.commitment
    return {
        "psbt": proposal.psbt.to_base64(),
        "payments": [[p.withdrawal_id, p.vout, p.amount] for p in proposal.payments],
        "fee_rate": proposal.fee_rate,
        "replaces": proposal.replaces,
        "commitment": None if commitment is None else [commitment.height, commitment.state_root],
    }


def proposal_from_json(body: Mapping[str, Any]) -> SpendProposal:
    try:
        commitment = body.get("commitment")
        return SpendProposal(
            psbt=Psbt.from_base64(str(body["psbt"])),
            payments=tuple(
                ReleasePayment(str(w).lower(), int(v), int(a)) for w, v, a in body["payments"]
            ),
            fee_rate=int(body["fee_rate"]),
            replaces=None if body.get("replaces") is None else str(body["replaces"]).lower(),
            commitment=None
            if commitment is None
            else CommitmentClaim(int(commitment[0]), str(commitment[1]).lower()),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise BadPeerMessage(f"malformed spend proposal: {error}") from error


def stored_proposal(ledger: Ledger, txid: str) -> SpendProposal:
    """The proposal of a spend this ledger recorded (to resume its round after a restart)."""
    release = ledger.releases.require(txid)
    psbt = Psbt.from_base64(release.psbt or "")
    payments = tuple(
        ReleasePayment(o.withdrawal_id, o.vout, o.amount) for o in ledger.releases.outputs(txid)
    )
    created = next(e for e in ledger.audit.for_record("release", txid) if e.action == "created")
    replaces = (created.detail or {}).get("replaces")
    claim = None
    for out in psbt.tx.vout:
        decoded = decode_commitment(bytes(out.scriptPubKey))
        if decoded is not None:
            claim = CommitmentClaim(decoded[0], "0x" + decoded[1].hex())
    return SpendProposal(psbt, payments, release.fee_rate, replaces, claim)


def finalize(psbt: Psbt) -> CTransaction:
    """The signed transaction once each input holds `threshold` valid signatures."""
    tx = CMutableTransaction.from_tx(psbt.tx)
    witnesses = []
    for index, entry in enumerate(psbt.inputs):
        deposit = DepositScript.parse(entry.witness_script)
        digest = signature_hash(tx, index, entry.witness_utxo.nValue, deposit)
        witnesses.append(federation_witness(deposit, digest, entry.partial_sigs))
    tx.wit = CTxWitness([CTxInWitness(w) for w in witnesses])
    return CTransaction.from_tx(tx)


class SigningMember:
    """Checks, records and signs vault spends and Bridge messages for one member."""

    def __init__(
        self,
        keys: MemberKeys,
        sessions: sessionmaker[Session],
        rpc: BitcoinRPC,
        checker: SpendChecker,
        domain: BridgeDomain,
    ) -> None:
        self.keys = keys
        self._sessions = sessions
        self._rpc = rpc
        self._checker = checker
        self._domain = domain

    async def sign_spend(self, proposal: SpendProposal) -> dict[int, bytes]:
        """This member's signature of each input, after the checks; the spend is recorded here
        (its withdrawals `releasing`) so it never signs a second spend paying them."""
        with self._sessions.begin() as session:
            ledger = Ledger(session)
            pause = ledger.pause.state()
            if pause.paused:
                raise ReleaseRefused(f"spend {proposal.txid}", f"paused here: {pause.reason}")
            known = ledger.releases.get(proposal.txid)
            if known is None:
                await self._checker.check(proposal, ledger)
                self._record(ledger, proposal)
            elif known.status not in (ReleaseStatus.SIGNING, ReleaseStatus.SIGNED):
                raise ReleaseRefused(f"spend {proposal.txid}", f"it is {known.status} here")
            signatures = self._sign_inputs(proposal.psbt)
            for index, signature in signatures.items():
                ledger.signatures.add(
                    SPEND_SUBJECT,
                    proposal.txid,
                    self.keys.bitcoin_public.hex(),
                    signature,
                    part=index,
                )
        return signatures

    def paused(self) -> bool:
        """This member's bridge is paused (by its operator, or by a deep reorg): it signs no
        vault spend, and coordinates none."""
        with self._sessions() as session:
            return Ledger(session).pause.state().paused

    def _record(self, ledger: Ledger, proposal: SpendProposal) -> None:
        fee = sum(i.witness_utxo.nValue for i in proposal.psbt.inputs) - sum(
            o.nValue for o in proposal.psbt.tx.vout
        )
        ledger.releases.create(
            txid=proposal.txid,
            payments=proposal.payments,
            fee=fee,
            fee_rate=proposal.fee_rate,
            psbt=proposal.psbt.to_base64(),
            replaces=proposal.replaces,
        )
        ledger.releases.move(proposal.txid, ReleaseStatus.SIGNING)
        claim = proposal.commitment
        if claim is not None and ledger.commitments.get(claim.height) is None:
            ledger.commitments.record(claim.height, claim.state_root)

    def _sign_inputs(self, psbt: Psbt) -> dict[int, bytes]:
        signatures: dict[int, bytes] = {}
        for index, entry in enumerate(psbt.inputs):
            deposit = DepositScript.parse(entry.witness_script)
            if self.keys.bitcoin_public not in deposit.federation_keys:
                raise ReleaseRefused(f"spend {psbt.txid}", f"input {index} is not ours to sign")
            digest = signature_hash(psbt.tx, index, entry.witness_utxo.nValue, deposit)
            signatures[index] = sign_digest(digest, self.keys.bitcoin)
        return signatures

    def learn_addresses(self, announced: list[Any]) -> int:
        """Store the deposit addresses a peer handed out, each derived here from its terms and
        this member's own federation keys; returns how many were new. `BadPeerMessage` (and
        nothing stored) if any entry is malformed."""
        if not isinstance(announced, list) or len(announced) > MAX_ANNOUNCED_ADDRESSES:
            raise BadPeerMessage(
                f"addresses must be a list of at most {MAX_ANNOUNCED_ADDRESSES} entries"
            )
        vault = self._checker.settings
        scripts = []
        for entry in announced:
            try:
                script = DepositScript.create(
                    entry["recipient"],
                    vault.federation_keys,
                    vault.threshold,
                    entry.get("refund_pubkey"),
                    entry.get("refund_timeout"),
                )
            except (KeyError, TypeError, AttributeError, DepositScriptError) as error:
                raise BadPeerMessage(
                    f"malformed deposit address terms {entry!r}: {error}"
                ) from error
            scripts.append(script)
        with self._sessions.begin() as session:
            addresses = Ledger(session).deposit_addresses
            new = 0
            for script in scripts:
                address = script.address(vault.network)
                new += addresses.get(address) is None
                addresses.add(
                    address,
                    script.witness_script.hex(),
                    "0x" + script.recipient.hex(),
                    refund_pubkey=None if script.refund_key is None else script.refund_key.hex(),
                    refund_timeout=script.timeout,
                )
        return new

    async def record_broadcast(self, proposal: SpendProposal, raw_tx: str, height: int) -> None:
        """A spend went out (the coordinator says so, or a peer passes it on): follow it. A
        spend this member did not sign is checked like a proposal first, its coins possibly
        spent already by this very transaction (so it learns only what its ledger backs)."""
        tx = CTransaction.deserialize(bytes.fromhex(raw_tx))
        if tx.GetTxid() != proposal.psbt.tx.GetTxid():
            raise BadPeerMessage("the raw transaction is not the announced spend")
        with self._sessions.begin() as session:
            ledger = Ledger(session)
            release = ledger.releases.get(proposal.txid)
            if release is None:
                await self._checker.check(proposal, ledger, signed=tx)
                self._record(ledger, proposal)
            follow_sent(ledger, proposal, raw_tx, height)

    async def attest_release(self, withdrawal_id: str, btc_txid: str) -> bytes:
        """The EIP-712 Release signature, if this member's ledger has that payment at depth."""
        with self._sessions() as session:
            withdrawal = Ledger(session).withdrawals.get(withdrawal_id.lower())
            # Only at the depth: a release still in the mempool may yet be replaced by fee.
            if withdrawal is None or withdrawal.status != WithdrawalStatus.CONFIRMED:
                raise ReleaseRefused(f"release of {withdrawal_id}", "not confirmed here")
            if withdrawal.release_txid != btc_txid.lower():
                raise ReleaseRefused(
                    f"release of {withdrawal_id}", f"paid by {withdrawal.release_txid} here"
                )
        message = ReleaseMessage(int(withdrawal_id, 16), bytes.fromhex(btc_txid))
        return self._sign_bridge(message)

    async def attest_commitment(self, height: int, state_root: str) -> bytes:
        """The EIP-712 Commitment signature, if this member anchored that root at `height` (its
        ledger holds the anchor confirmed) and its own node has the same root there."""
        refuse = f"commitment of height {height}"
        with self._sessions() as session:
            anchored = Ledger(session).commitments.get(height)
            if anchored is None or anchored.status != CommitmentStatus.CONFIRMED:
                raise ReleaseRefused(refuse, "its anchor is not confirmed here")
            if anchored.state_root != state_root.lower():
                raise ReleaseRefused(refuse, f"anchored root here is {anchored.state_root}")
        own = await self._checker.state_root_at(height)
        if own is None or own.lower() != state_root.lower():
            raise ReleaseRefused(refuse, f"state root at {height} is {own} on this node")
        commitment = Commitment(height, bytes.fromhex(state_root.removeprefix("0x")))
        return self._sign_bridge(commitment)

    async def attest_refund(self, withdrawal_id: str) -> bytes:
        """The EIP-712 Refund signature, if this member finds the request unpayable."""
        with self._sessions() as session:
            withdrawal = Ledger(session).withdrawals.get(withdrawal_id.lower())
            if withdrawal is None or withdrawal.status != WithdrawalStatus.REQUESTED:
                raise ReleaseRefused(f"refund of {withdrawal_id}", "not a pending request here")
            reason = await self._checker.refund_reason(withdrawal)
        if reason is None:
            raise ReleaseRefused(f"refund of {withdrawal_id}", "it can be paid on Bitcoin")
        return self._sign_bridge(Refund(int(withdrawal_id, 16)))

    def _sign_bridge(self, message: ReleaseMessage | Refund | Commitment) -> bytes:
        return sign_attestation(
            message, bytes(self.keys.evm.key), self._domain.chain_id, self._domain.bridge_address
        )


def follow_sent(ledger: Ledger, proposal: SpendProposal, raw_tx: str, height: int) -> None:
    """A spend recorded here is out (on bitcoind, or a member sent it): `broadcast`, whatever
    step this member was at, abandoned included (the others signed it without this one)."""
    status = ledger.releases.require(proposal.txid).status
    if status == ReleaseStatus.ABANDONED:
        ledger.releases.revive(proposal.txid)
    if status == ReleaseStatus.BUILDING:
        ledger.releases.move(proposal.txid, ReleaseStatus.SIGNING)
    if status in (ReleaseStatus.BUILDING, ReleaseStatus.SIGNING):
        ledger.releases.move(proposal.txid, ReleaseStatus.SIGNED)
    if ledger.releases.require(proposal.txid).status == ReleaseStatus.SIGNED:
        commitment = None if proposal.commitment is None else proposal.commitment.height
        mark_broadcast(ledger, proposal.txid, raw_tx, height, commitment)


def mark_broadcast(
    ledger: Ledger, txid: str, raw_tx: str, height: int, commitment: int | None = None
) -> None:
    """A signed spend went out: broadcast; the release it replaces (if any) replaced; the
    state commitment it anchors (if any) broadcast under this txid."""
    ledger.releases.mark_broadcast(txid, raw_tx=raw_tx, broadcast_height=height)
    for entry in ledger.audit.for_record("release", txid):
        replaced = (entry.detail or {}).get("replaces")
        if entry.action == "created" and replaced:
            old = ledger.releases.get(replaced)
            if old is not None and old.status == ReleaseStatus.BROADCAST:
                ledger.releases.mark_replaced(replaced, txid)
    if commitment is not None:
        row = ledger.commitments.require(commitment)
        if row.status == CommitmentStatus.BROADCAST:
            ledger.commitments.move(commitment, CommitmentStatus.PENDING, detail={"rbf": txid})
        ledger.commitments.mark_broadcast(commitment, txid)
