"""The watcher's judgement of a claim, from its own bitcoind and its own re-execution.

* A deposit attestation is true when the deposit is on Bitcoin at the depth ([bitcoin]
  confirmations): the output exists, pays the amount (BTC) or carries an Omni simple send of the
  amount of USDT, and pays the recipient's deposit address (checked when the address has no
  refund branch: one with a refund key is the P2WSH of terms only its depositor and the
  federation know). A transaction the watcher's bitcoind does not have (once it has every
  block whose header it knows) makes it false; one not yet at the depth leaves it undecided
  (it deepens or is reorganised away).
* A release is true when its Bitcoin transaction pays the withdrawal as asked (address and
  amount; for USDT the Omni send of the amount to the reference output at its address) and
  every other output goes back to the vault, is an OP_RETURN, or pays a withdrawal requested on
  the sidechain (released by the same transaction or still waiting). The deficit of a false
  BTC release is what left the vault for no withdrawal: its vault inputs, less what went back
  to the vault, less what paid withdrawals (its fee counts as lost); of a false USDT release,
  the USDT its Omni send moved when that send did not pay the withdrawal.
* A state commitment is true when the root at its height is the one this watcher computed.

A verdict of None means "cannot tell yet" (the transaction not known yet, the re-execution not
that far); the watcher asks again at its next step.
"""

import logging
from dataclasses import dataclass, field
from typing import Any

from bitcoin.core import CTransaction, b2lx
from bitcoin.core.script import OP_RETURN

from bridge.bitcoin.blocks import to_sats
from bridge.bitcoin.deposit_script import DepositScript
from bridge.bitcoin.errors import BitcoinRPCError
from bridge.bitcoin.omni.errors import OmniPayloadError
from bridge.bitcoin.omni.payload import SimpleSend, decode, payload_of_outputs
from bridge.bitcoin.rpc import BitcoinRPC
from bridge.bitcoin.script_errors import DepositScriptError
from relayer.release_check import address_scripts
from relayer.vault import VaultSettings
from relayer.watcher.replay import ChainReplay
from relayer.watcher.state import ClaimWork, Request, Verdict
from restaking.commitment import Commitment
from restaking.court import ClaimKind
from restaking.evidence import (
    CommitmentEvidence,
    DepositEvidence,
    Evidence,
    ReleaseEvidence,
    encode_evidence,
)
from sidechain.attestation import Attestation, Release
from sidechain.system_tx import ASSET_BTC, ASSET_USDT

log = logging.getLogger(__name__)
NOT_FOUND = -5
P2WSH_SIZE = 34


@dataclass
class SpendReport:
    """A Bitcoin transaction's outputs, seen from the vault: sats its vault inputs held, sats
    back to the vault, withdrawals paid (id -> sats of the paying output), outputs no request
    asked for, and its Omni send."""

    vault_in: int
    send: SimpleSend | None
    vault_out: int = 0
    paid: dict[str, int] = field(default_factory=dict)
    unasked: list[str] = field(default_factory=list)

    @property
    def spends_vault(self) -> bool:
        return self.vault_in > 0

    @property
    def lost(self) -> int:
        """What left the vault for no withdrawal (its fee included)."""
        return max(0, self.vault_in - self.vault_out - sum(self.paid.values()))


def false(reason: str, evidence: Evidence, deficit: int) -> Verdict:
    return Verdict(False, reason, deficit, "0x" + encode_evidence(evidence).hex())


class Judge:
    def __init__(
        self, settings: VaultSettings, rpc: BitcoinRPC, replay: ChainReplay, depth: int
    ) -> None:
        self._settings = settings
        self._rpc = rpc
        self._replay = replay
        self._depth = depth

    async def judge(self, work: ClaimWork, requests: dict[str, Request]) -> Verdict | None:
        kind = ClaimKind(work.kind)
        if kind == ClaimKind.DEPOSIT_ATTESTATION:
            return await self._deposit(work.detail)
        if kind == ClaimKind.RELEASE_SIGNATURE:
            return await self._release(work, requests)
        return self._commitment(work.detail)

    # deposits

    async def _deposit(self, detail: dict[str, Any]) -> Verdict | None:
        attestation = Attestation(
            bytes.fromhex(detail["txid"]),
            int(detail["vout"]),
            int(detail["asset"]),
            int(detail["amount"]),
            bytes.fromhex(detail["recipient"].removeprefix("0x")),
        )
        tip = bytes.fromhex(await self._rpc.call("getbestblockhash"))
        evidence = DepositEvidence(attestation, tip)
        amount = attestation.amount
        tx = await self._transaction(detail["txid"], verbose=True)
        if tx is None and not await self._caught_up():
            log.info("watcher: bitcoind is still catching up: deposit %s waits", detail["txid"])
            return None
        if tx is None:
            return false(f"Bitcoin has no transaction {detail['txid']}", evidence, amount)
        depth = int(tx.get("confirmations", 0))
        if depth < self._depth:
            log.info(
                "watcher: deposit %s at depth %d of %d", attestation.deposit_id, depth, self._depth
            )
            return None
        outputs = {int(out["n"]): out for out in tx["vout"]}
        out = outputs.get(attestation.vout)
        if out is None:
            return false(f"{detail['txid']} has no output {attestation.vout}", evidence, amount)
        problem = self._deposit_output_problem(attestation, out, tx)
        if problem is not None:
            return false(problem, evidence, amount)
        return Verdict(True, f"deposit {attestation.deposit_id} is on Bitcoin at depth {depth}")

    def _deposit_output_problem(
        self, attestation: Attestation, out: dict[str, Any], tx: dict[str, Any]
    ) -> str | None:
        script = bytes.fromhex(out["scriptPubKey"]["hex"])
        plain = DepositScript.create(
            attestation.recipient, self._settings.federation_keys, self._settings.threshold
        )
        if script != plain.script_pubkey and (len(script) != P2WSH_SIZE or script[:2] != b"\0\x20"):
            return f"output {attestation.vout} pays no deposit address"
        if attestation.asset == ASSET_BTC:
            sats = to_sats(out["value"])
            if sats != attestation.amount:
                return f"output {attestation.vout} pays {sats} sats, not {attestation.amount}"
            return None
        scripts = [bytes.fromhex(o["scriptPubKey"]["hex"]) for o in tx["vout"]]
        send = _simple_send(scripts)
        expected = SimpleSend(self._settings.usdt_property_id, attestation.amount)
        if send != expected:
            return f"the transaction's Omni send is {send}, not {expected}"
        return None

    # releases

    async def _release(self, work: ClaimWork, requests: dict[str, Request]) -> Verdict | None:
        withdrawal_id, txid = int(work.detail["withdrawal_id"]), str(work.detail["btc_txid"])
        raw = await self._transaction(txid, verbose=False)
        if raw is None or str(withdrawal_id) not in requests:
            log.info("watcher: release of %d by %s not judged yet", withdrawal_id, txid)
            return None
        tx = CTransaction.deserialize(bytes.fromhex(raw))
        report = await self.spend_report(tx, requests, must_pay=str(withdrawal_id))
        pays_it = str(withdrawal_id) in report.paid
        if pays_it and not report.unasked:
            return Verdict(True, f"{txid} pays withdrawal {withdrawal_id} and nothing unasked")
        reason = "; ".join(
            ([] if pays_it else [f"{txid} does not pay withdrawal {withdrawal_id} as asked"])
            + report.unasked
        )
        evidence = ReleaseEvidence(Release(withdrawal_id, bytes.fromhex(txid)), bytes.fromhex(raw))
        if work.asset == ASSET_USDT:
            deficit = 0 if report.send is None or pays_it else report.send.amount
        else:
            deficit = report.lost
        return false(reason, evidence, deficit)

    async def spend_report(
        self, tx: CTransaction, requests: dict[str, Request], must_pay: str | None = None
    ) -> "SpendReport":
        """Where a transaction's outputs go: back to the vault, to requested withdrawals (those
        released by it or still waiting, and `must_pay`), or elsewhere (unasked)."""
        txid = b2lx(tx.GetTxid())
        vault_in, vault_scripts = await self._vault_inputs(tx)
        vault_scripts.add(self._settings.change.script_pubkey)
        candidates = {
            key: r
            for key, r in requests.items()
            if r.released_by in (None, txid) or key == must_pay
        }
        scripts = await address_scripts(self._rpc, {r.address for r in candidates.values()})
        send = _simple_send([bytes(out.scriptPubKey) for out in tx.vout])
        report = SpendReport(vault_in, send)
        for vout, out in enumerate(tx.vout):
            script = bytes(out.scriptPubKey)
            if script in vault_scripts:
                report.vault_out += out.nValue
            elif script[:1] == bytes([OP_RETURN]) and out.nValue == 0:
                continue
            else:
                payee = _payee(script, out.nValue, send, candidates, scripts, report.paid)
                if payee is None:
                    report.unasked.append(f"output {vout} pays {out.nValue} sats to {script.hex()}")
                else:
                    report.paid[payee] = out.nValue
        return report

    async def _vault_inputs(self, tx: CTransaction) -> tuple[int, set[bytes]]:
        """The sats of the inputs that spend the federation's coins, and their scripts."""
        total = 0
        scripts: set[bytes] = set()
        for index, txin in enumerate(tx.vin):
            stack = list(tx.wit.vtxinwit[index].scriptWitness.stack) if tx.wit.vtxinwit else []
            if not stack:
                continue
            try:
                deposit = DepositScript.parse(stack[-1])
            except DepositScriptError:
                continue
            if not self._settings.owns(deposit):
                continue
            previous = await self._transaction(b2lx(txin.prevout.hash), verbose=True)
            if previous is None:
                continue
            total += to_sats(previous["vout"][txin.prevout.n]["value"])
            scripts.add(deposit.script_pubkey)
        return total, scripts

    # commitments

    def _commitment(self, detail: dict[str, Any]) -> Verdict | None:
        height = int(detail["height"])
        claimed = bytes.fromhex(str(detail["state_root"]).removeprefix("0x"))
        own = self._replay.root_at(height)
        if own is None:
            return None
        if own == claimed:
            return Verdict(True, f"the state root of height {height} is {own.hex()} here too")
        evidence = CommitmentEvidence(Commitment(height, claimed), own)
        return false(
            f"re-execution gives {own.hex()} at {height}, not {claimed.hex()}", evidence, 0
        )

    async def _caught_up(self) -> bool:
        """Whether this bitcoind has every block whose header it knows: a deposit missing from
        a node still catching up may only be in the blocks it has not got yet."""
        info = await self._rpc.call("getblockchaininfo")
        return int(info["blocks"]) == int(info["headers"])

    async def _transaction(self, txid: str, verbose: bool) -> Any:
        try:
            return await self._rpc.call("getrawtransaction", txid, verbose)
        except BitcoinRPCError as error:
            if error.code != NOT_FOUND:
                raise
            return None


def _simple_send(scripts: list[bytes]) -> SimpleSend | None:
    payload = payload_of_outputs(scripts)
    if payload is None:
        return None
    try:
        message = decode(payload)
    except OmniPayloadError:
        return None
    return message if isinstance(message, SimpleSend) else None


def _payee(
    script: bytes,
    sats: int,
    send: SimpleSend | None,
    candidates: dict[str, Request],
    scripts: dict[str, bytes | None],
    paid: dict[str, int],
) -> str | None:
    """The requested withdrawal (not paid yet by another output) this output pays, if any."""
    for key, request in sorted(candidates.items()):
        if key in paid or scripts.get(request.address) != script:
            continue
        if request.asset == ASSET_BTC and sats == request.amount:
            return key
        if request.asset == ASSET_USDT and send is not None and send.amount == request.amount:
            return key
    return None
