"""What a member checks before it signs a vault spend: every input and output against its ledger.

A member never signs what it did not see: each payment output must pay a withdrawal its OWN
ledger holds as `ready` (requested and its window closed unchallenged), to that withdrawal's
address, the exact amount; the only other outputs allowed are the vault change, the USDT
sender's anchor, one Omni send matching the USDT payment, and (for a commitment) the SLC1
OP_RETURN of the state root its own node reports. Inputs must be vault coins its own bitcoind
shows unspent with the amounts the PSBT claims, or, for a spend already broadcast (a member
catching up, see relayer.gossip), inputs the signed transaction spends with `threshold` valid
federation signatures over the claimed amounts. A replacement (RBF) must pay exactly the
withdrawals of a release this member holds as broadcast, and spend all of that release's inputs.
"""

import struct
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from bitcoin.core import CTransaction, CTxOut, b2lx
from bitcoin.core.script import OP_RETURN, SIGHASH_ALL, CScript
from coincurve import PublicKey

from bridge.bitcoin.blocks import to_sats
from bridge.bitcoin.deposit_script import DepositScript
from bridge.bitcoin.deposit_spend import signature_hash
from bridge.bitcoin.omni.payload import SimpleSend
from bridge.bitcoin.rpc import BitcoinRPC
from bridge.bitcoin.script_errors import DepositScriptError
from bridge.ledger import (
    Asset,
    CommitmentStatus,
    DepositStatus,
    Ledger,
    ReleasePayment,
    ReleaseStatus,
    Withdrawal,
)
from bridge.ledger import WithdrawalStatus as W
from relayer.release_build import SpendRules
from relayer.release_errors import ReleaseRefused
from relayer.release_psbt import Psbt
from relayer.vault import LIVE_SPENDS, VaultSettings, omni_send_of, spent_outpoints, usdt_holdings

COMMITMENT_MARKER = b"SLC1"
_COMMITMENT = struct.Struct(">4sQ32s")


def commitment_script(height: int, state_root: bytes) -> bytes:
    """OP_RETURN b"SLC1" + sidechain height (u64, big-endian) + state root (32 bytes)."""
    return bytes(CScript([OP_RETURN, _COMMITMENT.pack(COMMITMENT_MARKER, height, state_root)]))


def decode_commitment(script: bytes) -> tuple[int, bytes] | None:
    """(height, state root) of an SLC1 OP_RETURN script, or None if it is not one."""
    if not script or script[0] != OP_RETURN:
        return None
    pushes = [item for item in CScript(script[1:]) if isinstance(item, bytes)]
    if len(pushes) != 1 or len(pushes[0]) != _COMMITMENT.size:
        return None
    marker, height, root = _COMMITMENT.unpack(pushes[0])
    return (height, root) if marker == COMMITMENT_MARKER else None


@dataclass(frozen=True)
class CommitmentClaim:
    height: int
    state_root: str  # 0x-hex


@dataclass(frozen=True)
class SpendProposal:
    """What the coordinator asks members to sign."""

    psbt: Psbt
    payments: tuple[ReleasePayment, ...]
    fee_rate: int
    replaces: str | None = None
    commitment: CommitmentClaim | None = None

    @property
    def txid(self) -> str:
        return self.psbt.txid


StateRootAt = Callable[[int], Awaitable[str | None]]


async def address_scripts(rpc: BitcoinRPC, addresses: Iterable[str]) -> dict[str, bytes | None]:
    """{address: scriptPubKey} as this member's bitcoind decodes it (None: not an address of
    its network), in one batched round trip."""
    unique = sorted(set(addresses))
    infos = await rpc.batch([("validateaddress", [address]) for address in unique])
    return {
        address: bytes.fromhex(info["scriptPubKey"]) if info.get("isvalid") else None
        for address, info in zip(unique, infos, strict=True)
    }


class SpendChecker:
    """Refuses (`ReleaseRefused`) any proposal this member's ledger and bitcoind do not back."""

    def __init__(
        self,
        settings: VaultSettings,
        rules: SpendRules,
        rpc: BitcoinRPC,
        state_root_at: StateRootAt,
    ) -> None:
        self._settings = settings
        self._rules = rules
        self._rpc = rpc
        self._state_root_at = state_root_at

    @property
    def settings(self) -> VaultSettings:
        return self._settings

    async def state_root_at(self, height: int) -> str | None:
        """This member's node's state root at sidechain `height` (None before it)."""
        return await self._state_root_at(height)

    async def refund_reason(self, withdrawal: Withdrawal) -> str | None:
        """Why a requested withdrawal cannot be paid on Bitcoin (so is refunded), or None."""
        return await self.refund_reason_of(
            withdrawal.bitcoin_address, Asset(withdrawal.asset), withdrawal.amount
        )

    async def refund_reason_of(self, address: str, asset: Asset, amount: int) -> str | None:
        info = await self._rpc.call("validateaddress", address)
        if not info.get("isvalid"):
            return f"{address!r} is not a {self._settings.network} address"
        minimum = max(self._rules.min_payment_sats, self._rules.dust_sats)
        if asset == Asset.BTC and amount < minimum:
            return f"{amount} sats is below the minimum payment of {minimum}"
        return None

    async def check(
        self, proposal: SpendProposal, ledger: Ledger, signed: CTransaction | None = None
    ) -> None:
        """Refuse (`ReleaseRefused`) unless this member's ledger backs every input and output;
        `signed`: the spend was broadcast already, as this fully signed transaction."""
        refuse = _refuser(proposal.txid)
        psbt = proposal.psbt
        input_total, anchor_first = await self._check_inputs(proposal, ledger, signed)
        outputs = list(psbt.tx.vout)
        by_vout = {payment.vout: payment for payment in proposal.payments}
        if len(by_vout) != len(proposal.payments):
            raise refuse("two payments name the same output")
        if len({p.withdrawal_id for p in proposal.payments}) != len(proposal.payments):
            raise refuse("a withdrawal is paid twice")
        await self._check_withdrawals(proposal, ledger)
        paid = [ledger.withdrawals.require(p.withdrawal_id) for p in proposal.payments]
        scripts = await address_scripts(self._rpc, (w.bitcoin_address for w in paid))
        send = omni_send_of(psbt, self._settings.network)
        seen_change = seen_anchor = seen_commitment = False
        for vout, out in enumerate(outputs):
            script = bytes(out.scriptPubKey)
            if vout in by_vout:
                await self._check_payment(proposal, ledger, by_vout[vout], vout, out, send, scripts)
            elif script == self._settings.change.script_pubkey and not seen_change:
                seen_change = True
                if out.nValue < self._rules.dust_sats:
                    raise refuse(f"change output {vout} of {out.nValue} sats is dust")
            elif send is not None and self._is_anchor(psbt, vout, out) and not seen_anchor:
                seen_anchor = True
            elif send is not None and _is_omni(script):
                continue
            elif decode_commitment(script) is not None and not seen_commitment:
                seen_commitment = True
                await self._check_commitment(proposal, ledger, script)
            else:
                raise refuse(
                    f"output {vout} ({out.nValue} sats to {script.hex()}) is not requested"
                )
        if proposal.commitment is not None and not seen_commitment:
            raise refuse("a commitment spend without its SLC1 output")
        if send is not None and not any(w.asset == Asset.USDT for w in paid):
            raise refuse("an Omni send that pays no USDT withdrawal")
        if send is None and anchor_first:
            raise refuse("input 0 is a USDT anchor, spendable only as the sender of a USDT send")
        fee = input_total - sum(out.nValue for out in outputs)
        if fee < 0:
            raise refuse(f"outputs exceed inputs by {-fee} sats")
        ceiling = self._settings.policy.max_fee_rate
        if proposal.fee_rate > ceiling:
            raise refuse(f"fee rate {proposal.fee_rate} is above {ceiling}")

    async def _check_inputs(
        self, proposal: SpendProposal, ledger: Ledger, signed: CTransaction | None
    ) -> tuple[int, bool]:
        """The inputs' total, and whether input 0 is a USDT anchor rather than BTC funding."""
        refuse = _refuser(proposal.txid)
        psbt = proposal.psbt
        network = self._settings.network
        change_address = self._settings.change_address
        live = ledger.releases.with_status(*LIVE_SPENDS)
        own_spends = {r.txid for r in live}
        busy = set().union(
            *(
                spent_outpoints(Psbt.from_base64(r.psbt))
                for r in live
                if r.psbt and r.status != ReleaseStatus.CONFIRMED and r.txid != proposal.replaces
            )
        )
        total = 0
        anchor_first = False
        for index, (txin, entry) in enumerate(zip(psbt.tx.vin, psbt.inputs, strict=True)):
            try:
                deposit = DepositScript.parse(entry.witness_script)
            except DepositScriptError as error:
                raise refuse(f"input {index} is not a vault script: {error}") from error
            if not self._settings.owns(deposit):
                raise refuse(f"input {index} is not spendable by this federation")
            address = deposit.address(network)
            if bytes(entry.witness_utxo.scriptPubKey) != deposit.script_pubkey:
                raise refuse(f"input {index} witness utxo does not match its script")
            txid, vout = b2lx(txin.prevout.hash), txin.prevout.n
            outpoint = f"{txid}:{vout}"
            if outpoint in busy:
                raise refuse(f"input {index} ({outpoint}) is already spent by another vault spend")
            coin = await self._rpc.call("gettxout", txid, vout, False)
            amount = entry.witness_utxo.nValue
            if coin is None:
                if signed is None or not federation_signed(signed, index, amount, deposit):
                    raise refuse(f"input {index} ({outpoint}) is not an unspent confirmed coin")
            elif to_sats(coin["value"]) != amount:
                raise refuse(f"input {index} amount {amount} is not the coin's")
            if address != change_address:
                deposit_row = ledger.deposits.get(outpoint)
                minted = deposit_row is not None and deposit_row.status == DepositStatus.MINTED
                btc = minted and deposit_row is not None and deposit_row.asset == Asset.BTC
                anchor = index == 0 and (minted or txid in own_spends)
                if not (btc or anchor) or ledger.deposit_addresses.get(address) is None:
                    raise refuse(f"input {index} ({outpoint}) is not a coin the vault may spend")
                anchor_first = anchor_first or (anchor and not btc)
            total += entry.witness_utxo.nValue
        if proposal.replaces is not None:
            replaced = ledger.releases.get(proposal.replaces)
            if replaced is None or replaced.status != ReleaseStatus.BROADCAST or not replaced.psbt:
                raise refuse(f"replaces {proposal.replaces}, which is not a broadcast release here")
            if not spent_outpoints(Psbt.from_base64(replaced.psbt)) <= spent_outpoints(psbt):
                raise refuse("a replacement must spend every input of the release it replaces")
        return total, anchor_first

    async def _check_withdrawals(self, proposal: SpendProposal, ledger: Ledger) -> None:
        refuse = _refuser(proposal.txid)
        if proposal.replaces is not None:
            paid = {w.id for w in ledger.releases.withdrawals(proposal.replaces)}
            if paid != {p.withdrawal_id for p in proposal.payments}:
                raise refuse("a replacement must pay exactly the withdrawals it replaces")
            return
        for payment in proposal.payments:
            withdrawal = ledger.withdrawals.get(payment.withdrawal_id)
            if withdrawal is None:
                raise refuse(f"withdrawal {payment.withdrawal_id} was never requested here")
            if withdrawal.status != W.READY:
                raise refuse(f"withdrawal {withdrawal.id} is {withdrawal.status}, not ready")

    async def _check_payment(
        self,
        proposal: SpendProposal,
        ledger: Ledger,
        payment: ReleasePayment,
        vout: int,
        out: CTxOut,
        send: tuple[str, SimpleSend] | None,
        scripts: dict[str, bytes | None],
    ) -> None:
        refuse = _refuser(proposal.txid)
        withdrawal = ledger.withdrawals.require(payment.withdrawal_id)
        if bytes(out.scriptPubKey) != scripts.get(withdrawal.bitcoin_address):
            raise refuse(f"output {vout} does not pay {withdrawal.id}'s address")
        if payment.amount != withdrawal.amount:
            raise refuse(
                f"withdrawal {withdrawal.id} asked {withdrawal.amount}, not {payment.amount}"
            )
        if withdrawal.asset == Asset.BTC:
            if out.nValue != withdrawal.amount:
                raise refuse(
                    f"output {vout} pays {out.nValue} sats, "
                    f"{withdrawal.id} asked {withdrawal.amount}"
                )
            return
        if vout != len(proposal.psbt.tx.vout) - 1 or out.nValue != self._rules.reference_sats:
            raise refuse(
                f"USDT output {vout} is not the last output of {self._rules.reference_sats} sats"
            )
        expected = SimpleSend(self._rules.usdt_property_id, withdrawal.amount)
        if send is None or send[1] != expected:
            raise refuse(f"the Omni send is {send and send[1]}, {withdrawal.id} asked {expected}")
        held = usdt_holdings(ledger, self._settings.network).get(send[0], 0)
        if held < withdrawal.amount:
            raise refuse(f"sender {send[0]} holds {held} USDT units, not {withdrawal.amount}")

    def _is_anchor(self, psbt: Psbt, vout: int, out: CTxOut) -> bool:
        first = psbt.inputs[0].witness_utxo.scriptPubKey
        return vout == 0 and out.scriptPubKey == first and out.nValue == self._rules.reference_sats

    async def _check_commitment(
        self, proposal: SpendProposal, ledger: Ledger, script: bytes
    ) -> None:
        refuse = _refuser(proposal.txid)
        claim = proposal.commitment
        decoded = decode_commitment(script)
        if claim is None or decoded is None:
            raise refuse("an SLC1 output in a spend that claims no commitment")
        height, root = decoded
        anchored = ledger.commitments.latest(CommitmentStatus.CONFIRMED)
        if anchored is not None and anchored.sidechain_height >= height:
            raise refuse(f"height {height} is not above the anchored {anchored.sidechain_height}")
        if height != claim.height or "0x" + root.hex() != claim.state_root.lower():
            raise refuse("the SLC1 output does not match the claimed commitment")
        for release in ledger.releases.with_status(*LIVE_SPENDS):
            if release.txid in (proposal.txid, proposal.replaces) or not release.psbt:
                continue
            outputs = Psbt.from_base64(release.psbt).tx.vout
            if any(_anchors(bytes(out.scriptPubKey), height) for out in outputs):
                raise refuse(f"height {height} is anchored already by {release.txid}")
        own = await self._state_root_at(height)
        if own is None or own.lower() != claim.state_root.lower():
            raise refuse(f"state root at {height} is {own} here, not {claim.state_root}")


def _anchors(script: bytes, height: int) -> bool:
    decoded = decode_commitment(script)
    return decoded is not None and decoded[0] == height


def federation_signed(tx: CTransaction, index: int, amount: int, deposit: DepositScript) -> bool:
    """True when input `index` of the signed `tx` spends `deposit` with `threshold` valid
    signatures (BIP143, over `amount` sats) of distinct federation members."""
    if index >= len(tx.wit.vtxinwit):
        return False
    stack = list(tx.wit.vtxinwit[index].scriptWitness.stack)
    if len(stack) < 2 or stack[-1] != deposit.witness_script:
        return False
    digest = signature_hash(tx, index, amount, deposit)
    signers: set[bytes] = set()
    for item in stack[1:-1]:
        for key in deposit.federation_keys:
            if key not in signers and _verifies(key, item, digest):
                signers.add(key)
                break
    return len(signers) >= deposit.threshold


def _verifies(key: bytes, signature: bytes, digest: bytes) -> bool:
    if len(signature) < 2 or signature[-1] != SIGHASH_ALL:
        return False
    try:
        return bool(PublicKey(key).verify(signature[:-1], digest, hasher=None))
    except ValueError:
        return False


def _is_omni(script: bytes) -> bool:
    return len(script) > 6 and script[0] == OP_RETURN and script[2:6] == b"omni"


def _refuser(txid: str) -> Callable[[str], ReleaseRefused]:
    return lambda reason: ReleaseRefused(f"spend {txid}", reason)
