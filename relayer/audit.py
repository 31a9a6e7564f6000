"""The solvency invariant, per asset, from the sidechain node, bitcoind and one member's ledger:
the one function behind `sluice audit` and the API's `GET /v1/status`.

    sidechain supply = bridge holdings on Bitcoin - withdrawals in flight - fee reserve

All figures are Bitcoin base units (sats; USDT units of 10^-8).

Sidechain supply (read at one sidechain block)
* BTC is also the sidechain's gas coin, so bridged BTC is defined by the Bridge itself: the
  sats its `Deposited` events minted minus its `locked_sats()` (a withdrawal locks what Bitcoin
  pays in the Bridge for good, a refund gives it back; the withdrawal fee it keeps stays in
  circulation and goes to the restaking vaults). Genesis gas balances are not bridged BTC.
* USDT: the USDT token's totalSupply() (a withdrawal burns what Bitcoin pays; its fee stays).

Bridge holdings on Bitcoin (the mempool included: a release just broadcast is already out)
* BTC: every coin of the vault, each looked up with gettxout: minted deposits (BTC and USDT,
  since a USDT deposit's output carries sats too), the vault outputs of the federation's own
  broadcast and confirmed spends (change, USDT anchors), and coins paid to the vault change
  address from outside (fee-reserve top-ups).
* USDT: the Omni balances of the vault's USDT addresses (those of minted USDT deposits, and the
  change address), from an Omni indexer over the chain since `relayer.scan_start_height`, less
  the USDT deposits there that are not minted (yet, or rejected: those are the depositors'),
  less the Omni sends of the federation's spends still in the mempool.

Withdrawals in flight: the ledger's withdrawals requested and not yet paid (requested ..
releasing; once the release is broadcast they are paid out).

Fee reserve (BTC; USDT pays no fee). A vault spend pays a Bitcoin fee, and a USDT payout carries
`reference_sats` of BTC to its recipient; neither is a withdrawal, so no sidechain BTC was
burned for them. They are paid from the fee reserve: the vault's BTC that backs no sidechain
supply. Its credits are the sats that reached the vault without minting BTC: the outputs of
USDT deposits, and top-ups to the vault change address (how the federation funds it; the
Bridge charges no fee to fund it from). Its debits are, per broadcast or confirmed vault
spend, the fee plus every output that leaves the vault without paying a BTC withdrawal. The
reserve is computed from those flows, never as a difference, so the equation accounts for
every sat, and it must not be negative: a negative reserve means users' BTC paid fees.

The invariant holds when the equation balances, the reserve is not negative, and no coin the
ledger holds as the vault's was spent by a transaction the federation did not sign, unless the
court voided the release claim that named that transaction (a challenge upheld: the ledger's
court stage mirrors it, with the transaction in its evidence): then the operators who signed it
were slashed and the deficit covered, taken out of circulation (Bridge.locked_sats), so the
supply falls with the holdings.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bitcoin.core import CTransaction, b2lx
from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address

from bridge.bitcoin.blocks import RPCClient
from bridge.bitcoin.chain import sync_stage
from bridge.bitcoin.omni.indexer import OmniIndexer
from bridge.ledger import (
    Asset,
    ChallengeStatus,
    ClaimKind,
    DepositStatus,
    Ledger,
    ReleaseStatus,
    WithdrawalStatus,
)
from relayer.node_client import BRIDGE_EVENT_TOPICS, Deposited, decode_bridge_log
from relayer.release_psbt import Psbt
from relayer.vault import VaultSettings, VaultView, omni_send_of, scan_address, unspent, vault_view
from sidechain.predeploys import BRIDGE_ADDRESS, USDT_ADDRESS
from sidechain.system_tx import ASSET_BTC, ASSET_USDT

IN_FLIGHT = (
    WithdrawalStatus.REQUESTED,
    WithdrawalStatus.WINDOW_OPEN,
    WithdrawalStatus.CHALLENGED,
    WithdrawalStatus.READY,
    WithdrawalStatus.RELEASING,
)
PAID_OUT = (WithdrawalStatus.RELEASED, WithdrawalStatus.CONFIRMED)
NOT_MINTED_ON_CHAIN = (
    DepositStatus.SEEN,
    DepositStatus.CONFIRMED,
    DepositStatus.ATTESTED,
    DepositStatus.REJECTED,
)
LOG_CHUNK_BLOCKS = 5000
OMNI_BATCH = 50
TOTAL_SUPPLY = keccak(text="totalSupply()")[:4]
LOCKED_SATS = keccak(text="locked_sats()")[:4]


class NodeReads(Protocol):
    """The one call the audit makes of a sidechain node client (the relayer's or the API's)."""

    async def call(self, method: str, *params: Any) -> Any: ...


@dataclass(frozen=True)
class Solvency:
    """One asset's side of the invariant; `terms` lists every figure behind it, for printing."""

    asset: Asset
    sidechain_supply: int
    bitcoin_holdings: int
    in_flight: int
    fee_reserve: int
    minted: int  # by Deposited events
    paid_out: int  # withdrawals paid on Bitcoin (their release broadcast)
    terms: tuple[tuple[str, int], ...]
    problems: tuple[str, ...] = ()

    @property
    def backing(self) -> int:
        """The supply Bitcoin backs: holdings - in flight - fee reserve."""
        return self.bitcoin_holdings - self.in_flight - self.fee_reserve

    @property
    def unbacked(self) -> int:
        """Supply that Bitcoin does not back (negative: Bitcoin holds more than it should)."""
        return self.sidechain_supply - self.backing

    @property
    def holds(self) -> bool:
        return self.unbacked == 0 and self.fee_reserve >= 0 and not self.problems

    def lines(self) -> list[str]:
        out = [f"{self.asset}: {'OK' if self.holds else 'BROKEN'}"]
        out += [f"  {name:<52} {value:>20}" for name, value in self.terms]
        sign = "==" if self.unbacked == 0 else "!="
        out.append(
            f"  supply {self.sidechain_supply} {sign} holdings {self.bitcoin_holdings} "
            f"- in flight {self.in_flight} - fee reserve {self.fee_reserve} (= {self.backing})"
        )
        out.append(f"  {'unbacked supply':<52} {self.unbacked:>20}")
        out += [f"  problem: {problem}" for problem in self.problems]
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "holds": self.holds,
            "unbacked": self.unbacked,
            "terms": dict(self.terms),
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class LedgerFigures:
    """What the audit reads from one member's ledger, in one transaction."""

    vault: VaultView
    in_flight: dict[Asset, int]
    paid_out: dict[Asset, int]
    btc_paid: dict[str, int]  # sent spend -> sats it pays to BTC withdrawals
    unminted_usdt: dict[str, int]  # address -> USDT deposits there, on chain, not minted
    voided_spends: frozenset[str]  # vault coins spent by releases the court voided


def read_ledger(ledger: Ledger, settings: VaultSettings) -> LedgerFigures:
    view = vault_view(ledger, settings)
    btc_paid = {
        spend.txid: sum(
            w.amount for w in ledger.releases.withdrawals(spend.txid) if w.asset == Asset.BTC
        )
        for spend in view.sent()
    }
    unminted: dict[str, int] = {}
    for deposit in ledger.deposits.with_status(*NOT_MINTED_ON_CHAIN):
        if deposit.asset == Asset.USDT:
            address = deposit.deposit_address
            unminted[address] = unminted.get(address, 0) + deposit.amount
    return LedgerFigures(
        vault=view,
        in_flight={a: ledger.withdrawals.total_amount(a, IN_FLIGHT) for a in Asset},
        paid_out={a: ledger.withdrawals.total_amount(a, PAID_OUT) for a in Asset},
        btc_paid=btc_paid,
        unminted_usdt=unminted,
        voided_spends=frozenset(voided_release_inputs(ledger)),
    )


def voided_release_inputs(ledger: Ledger) -> set[str]:
    """The outpoints spent by the Bitcoin transactions of release claims the court voided (the
    transaction is in the upheld challenge's evidence)."""
    outpoints: set[str] = set()
    for challenge in ledger.challenges.with_status(ChallengeStatus.SUCCEEDED):
        raw = challenge.evidence.get("raw_transaction")
        if ledger.claims.require(challenge.claim_id).kind != ClaimKind.RELEASE or not raw:
            continue
        tx = CTransaction.deserialize(bytes.fromhex(raw))
        outpoints |= {f"{b2lx(i.prevout.hash)}:{i.prevout.n}" for i in tx.vin}
    return outpoints


@dataclass
class Auditor:
    """Checks the invariant; keeps what it read of both chains, so a second check (the API's)
    reads only the new blocks."""

    settings: VaultSettings
    omni_start_height: int
    _omni: OmniIndexer = field(init=False)
    _minted: dict[int, int] = field(init=False)
    _minted_through: int = field(init=False, default=-1)

    def __post_init__(self) -> None:
        self._omni = OmniIndexer(start_height=self.omni_start_height)
        self._minted = {ASSET_BTC: 0, ASSET_USDT: 0}

    async def check(
        self, figures: LedgerFigures, bitcoin: RPCClient, node: NodeReads
    ) -> list[Solvency]:
        """Both assets' solvency (reads only)."""
        head = int(await node.call("eth_blockNumber"), 16)
        await self._follow_mints(node, head)
        block = hex(head)
        locked = await _view(node, BRIDGE_ADDRESS, LOCKED_SATS, block)
        usdt_supply = await _view(node, USDT_ADDRESS, TOTAL_SUPPLY, block)
        btc = await self._btc(figures, bitcoin, self._minted[ASSET_BTC] - locked, locked)
        usdt = await self._usdt(figures, bitcoin, usdt_supply)
        return [btc, usdt]

    async def _follow_mints(self, node: NodeReads, head: int) -> None:
        """Add the Deposited amounts of blocks (minted_through, head] to the totals."""
        bridge = to_checksum_address(BRIDGE_ADDRESS)
        topics = [[BRIDGE_EVENT_TOPICS["Deposited"]]]
        for start in range(self._minted_through + 1, head + 1, LOG_CHUNK_BLOCKS):
            end = min(head, start + LOG_CHUNK_BLOCKS - 1)
            criteria = {
                "fromBlock": hex(start),
                "toBlock": hex(end),
                "address": bridge,
                "topics": topics,
            }
            for raw in await node.call("eth_getLogs", criteria):
                event = decode_bridge_log(raw)
                if isinstance(event, Deposited):
                    self._minted[event.asset] += event.amount
            self._minted_through = end

    async def _btc(
        self, figures: LedgerFigures, bitcoin: RPCClient, supply: int, locked: int
    ) -> Solvency:
        view = figures.vault
        own_txids = view.own_txids()
        own_outputs = view.own_outputs()
        topups = {
            outpoint: sats
            for outpoint, sats in (
                await scan_address(bitcoin, self.settings.change_address)
            ).items()
            if outpoint.split(":")[0] not in own_txids
        }
        candidates = set(view.candidates()) | set(topups)
        found = await unspent(bitcoin, candidates, include_mempool=True)
        inputs = [entry for spend in view.spends for entry in _inputs(spend.psbt)]
        spent_inputs = {outpoint: sats for outpoint, sats, _ in inputs}  # of every live spend
        # Coins the vault must have had: minted deposits, outputs of confirmed own spends and
        # confirmed top-ups. Gone, and spent by none of the federation's spends: stolen.
        confirmed = {s.txid for s in view.spends if s.release.status == ReleaseStatus.CONFIRMED}
        certain = set(view.minted) | set(topups)
        certain |= {o for o in own_outputs if o.split(":")[0] in confirmed}
        gone = certain - found.keys() - spent_inputs.keys()
        voided = gone & figures.voided_spends
        outside = sorted(gone - voided)

        usdt_outputs = [o for o, d in view.minted.items() if d.asset == Asset.USDT]
        usdt_credit = sum(found.get(o, spent_inputs.get(o, 0)) for o in usdt_outputs)
        change_script = self.settings.change.script_pubkey
        spent_topups = {
            outpoint: sats
            for outpoint, sats, script in inputs
            if script == change_script and outpoint.split(":")[0] not in own_txids
        }
        topup_credit = sum((topups | spent_topups).values())
        fees = leaving = 0
        for spend in view.sent():
            outputs = spend.psbt.tx.vout
            fees += sum(e.witness_utxo.nValue for e in spend.psbt.inputs) - sum(
                out.nValue for out in outputs
            )
            leaving += sum(
                out.nValue for out in outputs if view.script_of(bytes(out.scriptPubKey)) is None
            )
            leaving -= figures.btc_paid.get(spend.txid, 0)
        reserve = usdt_credit + topup_credit - fees - leaving
        problems = [
            f"vault coin {outpoint} was spent by a transaction the federation did not sign"
            for outpoint in outside
        ]
        if reserve < 0:
            problems.append(
                f"the fee reserve is short by {-reserve} sats: users' BTC paid the vault's "
                f"fees; pay at least that to {self.settings.change_address}"
            )
        held = {
            kind: sum(
                sats for outpoint, sats in found.items() if _kind(outpoint, view, topups) == kind
            )
            for kind in ("minted", "own", "topup")
        }
        return Solvency(
            Asset.BTC,
            sidechain_supply=supply,
            bitcoin_holdings=sum(found.values()),
            in_flight=figures.in_flight[Asset.BTC],
            fee_reserve=reserve,
            minted=self._minted[ASSET_BTC],
            paid_out=figures.paid_out[Asset.BTC],
            terms=(
                ("sidechain: minted by Deposited events", self._minted[ASSET_BTC]),
                ("sidechain: locked in the Bridge (Bridge.locked_sats)", locked),
                ("sidechain: supply", supply),
                ("bitcoin: minted deposit coins unspent", held["minted"]),
                ("bitcoin: vault outputs of federation spends unspent", held["own"]),
                ("bitcoin: top-ups unspent at the change address", held["topup"]),
                ("bitcoin: holdings", sum(found.values())),
                ("bitcoin: vault coins taken by releases the court voided", len(voided)),
                ("ledger: withdrawals in flight", figures.in_flight[Asset.BTC]),
                ("ledger: withdrawals paid out", figures.paid_out[Asset.BTC]),
                ("fee reserve: + sats of USDT deposit outputs", usdt_credit),
                ("fee reserve: + top-ups to the change address", topup_credit),
                ("fee reserve: - fees of federation spends", fees),
                ("fee reserve: - sats carried out by USDT payouts", leaving),
                ("fee reserve", reserve),
            ),
            problems=tuple(problems),
        )

    async def _usdt(self, figures: LedgerFigures, bitcoin: RPCClient, supply: int) -> Solvency:
        view = figures.vault
        network = self.settings.network
        mempool = set(await bitcoin.call("getrawmempool"))
        await sync_stage(bitcoin, self._omni, batch_size=OMNI_BATCH)
        addresses = {d.deposit_address for d in view.minted.values() if d.asset == Asset.USDT}
        addresses.add(self.settings.change_address)
        property_id = self.settings.usdt_property_id
        balances = sum(self._omni.balance(address, property_id) for address in addresses)
        unminted = sum(figures.unminted_usdt.get(address, 0) for address in addresses)
        pending = 0
        for spend in view.spends:
            send = omni_send_of(spend.psbt, network)
            unmined = spend.txid in mempool and self._omni.result(spend.txid) is None
            if send is not None and spend.release.status == ReleaseStatus.BROADCAST and unmined:
                pending += send[1].amount
        holdings = balances - unminted - pending
        return Solvency(
            Asset.USDT,
            sidechain_supply=supply,
            bitcoin_holdings=holdings,
            in_flight=figures.in_flight[Asset.USDT],
            fee_reserve=0,
            minted=self._minted[ASSET_USDT],
            paid_out=figures.paid_out[Asset.USDT],
            terms=(
                ("sidechain: minted by Deposited events", self._minted[ASSET_USDT]),
                ("sidechain: USDT totalSupply()", supply),
                (f"bitcoin: Omni balance of {len(addresses)} vault addresses", balances),
                ("bitcoin: - USDT deposits there not minted (yet)", unminted),
                ("bitcoin: - Omni sends of federation spends in the mempool", pending),
                ("bitcoin: holdings", holdings),
                ("ledger: withdrawals in flight", figures.in_flight[Asset.USDT]),
                ("ledger: withdrawals paid out", figures.paid_out[Asset.USDT]),
            ),
        )


async def _view(node: NodeReads, contract: bytes, selector: bytes, block: str) -> int:
    """A uint256 view function's answer at `block`."""
    call = {"to": to_checksum_address(contract), "data": "0x" + selector.hex()}
    raw = await node.call("eth_call", call, block)
    return int(abi_decode(["uint256"], bytes.fromhex(raw.removeprefix("0x")))[0])


def _inputs(psbt: Psbt) -> Iterable[tuple[str, int, bytes]]:
    """(outpoint, sats, scriptPubKey) of each input of a spend."""
    for txin, entry in zip(psbt.tx.vin, psbt.inputs, strict=True):
        outpoint = f"{b2lx(txin.prevout.hash)}:{txin.prevout.n}"
        yield outpoint, entry.witness_utxo.nValue, bytes(entry.witness_utxo.scriptPubKey)


def _kind(outpoint: str, view: VaultView, topups: dict[str, int]) -> str:
    if outpoint in view.minted:
        return "minted"
    return "topup" if outpoint in topups else "own"
