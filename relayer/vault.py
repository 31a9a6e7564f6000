"""The federation's vault on Bitcoin: which coins it may spend, its USDT per address, its fees.

Rules (every member applies the same ones to its own ledger, so they agree):
* Change goes to the vault change address: the deposit script with the zero recipient
  (`<20 zero bytes> OP_DROP` + the federation multisig), so one signing path spends all coins.
* A coin at a deposit address is spendable BTC only if the ledger holds it as a minted BTC
  deposit; a rejected deposit stays the depositor's (refundable) and is never touched.
* USDT is held per address (Omni balances): an address's USDT = its minted USDT deposits minus
  the Omni sends of the vault's live spends (building ... confirmed, not replaced/abandoned)
  whose first input comes from it. A USDT send spends first an *anchor* coin at the sender
  address (the USDT deposit's reference output, or an anchor a previous send left there) and,
  when the address keeps a balance, pays a new anchor back to it so the rest stays spendable.
* Coins are found with `scantxoutset` over `addr()` descriptors (no wallet needed, confirmed
  coins only); coins already spent by a live vault spend in the ledger are left out.
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bitcoin.core import b2lx
from sqlalchemy.orm import Session, sessionmaker

from bridge.bitcoin.blocks import to_sats
from bridge.bitcoin.deposit_script import DepositScript
from bridge.bitcoin.errors import BitcoinRPCError
from bridge.bitcoin.omni.payload import SimpleSend, decode, payload_of_outputs
from bridge.bitcoin.rpc import BitcoinRPC
from bridge.ledger import Asset, DepositStatus, Ledger, Release, ReleaseStatus
from relayer.release_build import UsdtSource, VaultCoin
from relayer.release_psbt import Psbt

ZERO_RECIPIENT = bytes(20)
LIVE_SPENDS = (
    ReleaseStatus.BUILDING,
    ReleaseStatus.SIGNING,
    ReleaseStatus.SIGNED,
    ReleaseStatus.BROADCAST,
    ReleaseStatus.CONFIRMED,
)
UNCONFIRMED_SPENDS = LIVE_SPENDS[:-1]
SCAN_IN_PROGRESS = -8
SCAN_RETRIES = 50


@dataclass(frozen=True)
class VaultSettings:
    """The federation's Bitcoin keys (compressed, any order), threshold and network."""

    federation_keys: tuple[bytes, ...]
    threshold: int
    network: str
    usdt_property_id: int
    fee_floor: int = 2_000  # sat per 1000 vbytes; regtest has no estimates, so this applies
    max_fee_rate: int = 500_000  # a member refuses to sign above this
    fee_target_blocks: int = 6

    @property
    def change(self) -> DepositScript:
        return DepositScript(ZERO_RECIPIENT, self.federation_keys, self.threshold)

    @property
    def change_address(self) -> str:
        return self.change.address(self.network)

    def owns(self, deposit: DepositScript) -> bool:
        """True when `deposit` is spendable by exactly this federation's multisig."""
        return (
            deposit.federation_keys == self.change.federation_keys
            and deposit.threshold == self.threshold
        )


@dataclass(frozen=True)
class VaultCoins:
    funding: tuple[VaultCoin, ...]
    anchors: dict[str, tuple[VaultCoin, ...]]  # address -> anchor coins
    usdt: dict[str, int]  # address -> USDT units the vault holds there

    def usdt_source(self, amount: int) -> UsdtSource | None:
        """The address holding at least `amount` (the largest balance first, then by name)."""
        for address, balance in sorted(self.usdt.items(), key=lambda kv: (-kv[1], kv[0])):
            anchors = self.anchors.get(address, ())
            if balance >= amount and anchors:
                return UsdtSource(anchors[0], keeps_balance=balance > amount)
        return None


def omni_send_of(psbt: Psbt, network: str) -> tuple[str, SimpleSend] | None:
    """(sender address, message) of a spend's Omni simple send, or None if it has none."""
    payload = payload_of_outputs([bytes(out.scriptPubKey) for out in psbt.tx.vout])
    if payload is None:
        return None
    message = decode(payload)
    if not isinstance(message, SimpleSend):
        return None
    sender = DepositScript.parse(psbt.inputs[0].witness_script)
    return sender.address(network), message


def spent_outpoints(psbt: Psbt) -> set[str]:
    return {f"{b2lx(txin.prevout.hash)}:{txin.prevout.n}" for txin in psbt.tx.vin}


def usdt_holdings(ledger: Ledger, network: str) -> dict[str, int]:
    """Per deposit address: minted USDT deposits minus the Omni sends of live vault spends."""
    holdings: dict[str, int] = {}
    for deposit in ledger.deposits.with_status(DepositStatus.MINTED):
        if deposit.asset == Asset.USDT:
            address = deposit.deposit_address
            holdings[address] = holdings.get(address, 0) + deposit.amount
    for release in ledger.releases.with_status(*LIVE_SPENDS):
        send = _send_of(release, network)
        if send is not None:
            sender, message = send
            holdings[sender] = holdings.get(sender, 0) - message.amount
    return {address: amount for address, amount in holdings.items() if amount > 0}


def _send_of(release: Release, network: str) -> tuple[str, SimpleSend] | None:
    return None if release.psbt is None else omni_send_of(Psbt.from_base64(release.psbt), network)


class Vault:
    """Finds the vault's spendable coins on this member's bitcoind, by this member's ledger."""

    def __init__(
        self, settings: VaultSettings, sessions: sessionmaker[Session], rpc: BitcoinRPC
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._rpc = rpc
        self._scan_lock = asyncio.Lock()

    @property
    def settings(self) -> VaultSettings:
        return self._settings

    async def fee_rate(self) -> int:
        """sat per 1000 vbytes: bitcoind's estimate for the target, never below the floor."""
        estimate = await self._rpc.call("estimatesmartfee", self._settings.fee_target_blocks)
        rate = to_sats(estimate["feerate"]) if "feerate" in estimate else 0
        return max(rate, self._settings.fee_floor)

    async def coins(self) -> VaultCoins:
        network = self._settings.network
        with self._sessions() as session:
            ledger = Ledger(session)
            minted = {d.id: d for d in ledger.deposits.with_status(DepositStatus.MINTED)}
            scripts = {
                row.address: DepositScript.parse(bytes.fromhex(row.witness_script))
                for row in (
                    ledger.deposit_addresses.get(d.deposit_address) for d in minted.values()
                )
                if row is not None
            }
            live = ledger.releases.with_status(*UNCONFIRMED_SPENDS)
            busy = set().union(*(spent_outpoints(Psbt.from_base64(r.psbt)) for r in live if r.psbt))
            own_txids = {r.txid for r in ledger.releases.with_status(*LIVE_SPENDS)}
            usdt = usdt_holdings(ledger, network)
        change = self._settings.change
        scripts = {a: s for a, s in scripts.items() if self._settings.owns(s)}
        scripts[change.address(network)] = change
        funding: list[VaultCoin] = []
        anchors: dict[str, list[VaultCoin]] = {}
        by_script = {s.script_pubkey.hex(): (a, s) for a, s in scripts.items()}
        for utxo in await self._scan(sorted(scripts)):
            address, deposit_script = by_script[str(utxo["scriptPubKey"])]
            coin = VaultCoin(
                str(utxo["txid"]), int(utxo["vout"]), to_sats(utxo["amount"]), deposit_script
            )
            if coin.outpoint in busy:
                continue
            deposit = minted.get(coin.outpoint)
            if address == change.address(network) or (deposit and deposit.asset == Asset.BTC):
                funding.append(coin)
            elif address in usdt and (deposit is not None or coin.txid in own_txids):
                anchors.setdefault(address, []).append(coin)
        return VaultCoins(
            tuple(funding),
            {a: tuple(sorted(c, key=lambda c: (c.txid, c.vout))) for a, c in anchors.items()},
            usdt,
        )

    async def _scan(self, addresses: Sequence[str]) -> list[dict[str, Any]]:
        descriptors = [f"addr({address})" for address in addresses]
        async with self._scan_lock:
            for _ in range(SCAN_RETRIES):
                try:
                    result = await self._rpc.call("scantxoutset", "start", descriptors)
                    return list(result["unspents"])
                except BitcoinRPCError as error:
                    if error.code != SCAN_IN_PROGRESS:
                        raise
                    await asyncio.sleep(0.1)  # another member's scan on a shared bitcoind
        raise BitcoinRPCError(SCAN_IN_PROGRESS, "scantxoutset stayed busy", "scantxoutset")
