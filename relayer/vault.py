"""The federation's vault on Bitcoin: which coins it holds, its USDT per address, its fees.

Rules (every member applies the same ones to its own ledger, so they agree):
* Change goes to the vault change address: the deposit script with the zero recipient
  (`<20 zero bytes> OP_DROP` + the federation multisig), so one signing path spends all coins.
  BTC paid to that address from outside (a fee-reserve top-up, see relayer.audit) is the
  vault's too.
* A coin at a deposit address is spendable BTC only if the ledger holds it as a minted BTC
  deposit; a rejected deposit stays the depositor's (refundable) and is never touched.
* USDT is held per address (Omni balances): an address's USDT = its minted USDT deposits minus
  the Omni sends of the vault's live spends (building ... confirmed, not replaced/abandoned)
  whose first input comes from it. A USDT send spends first an *anchor* coin at the sender
  address (the USDT deposit's reference output, or an anchor a previous send left there) and,
  when the address keeps a balance, pays a new anchor back to it so the rest stays spendable.
* The ledger says which coins the vault has (`VaultView`): minted deposits and the outputs of
  its own broadcast or confirmed spends that pay a vault script, less what its confirmed spends
  consumed. bitcoind only confirms them (`gettxout`, a lookup per coin), so no step scans the
  UTXO set for deposit addresses; the change address alone is scanned for top-ups, once per
  Bitcoin block.
"""

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field

from bitcoin.core import b2lx
from sqlalchemy.orm import Session, sessionmaker

from bridge.bitcoin.blocks import RPCClient, to_sats
from bridge.bitcoin.deposit_script import DepositScript
from bridge.bitcoin.errors import BitcoinRPCError
from bridge.bitcoin.network import Network
from bridge.bitcoin.omni.payload import SimpleSend, decode, payload_of_outputs
from bridge.ledger import Asset, Deposit, DepositStatus, Ledger, Release, ReleaseStatus
from relayer.release_build import UsdtSource, VaultCoin
from relayer.release_psbt import Psbt
from sluice.config import Config, VaultConfig
from sluice.errors import ConfigError

ZERO_RECIPIENT = bytes(20)
LIVE_SPENDS = (
    ReleaseStatus.BUILDING,
    ReleaseStatus.SIGNING,
    ReleaseStatus.SIGNED,
    ReleaseStatus.BROADCAST,
    ReleaseStatus.CONFIRMED,
)
UNCONFIRMED_SPENDS = LIVE_SPENDS[:-1]
SENT_SPENDS = (ReleaseStatus.BROADCAST, ReleaseStatus.CONFIRMED)
SCAN_IN_PROGRESS = -8
SCAN_RETRIES = 50


@dataclass(frozen=True)
class VaultSettings:
    """Who the vault is (the federation's Bitcoin keys, any order, and threshold, on a network)
    and how it spends (`policy`)."""

    federation_keys: tuple[bytes, ...]
    threshold: int
    network: str
    usdt_property_id: int
    policy: VaultConfig = field(default_factory=VaultConfig)

    @classmethod
    def from_config(cls, config: Config) -> "VaultSettings":
        """The vault of the federation `config.bridge` names (it must name one)."""
        if not config.bridge.federation_pubkeys:
            raise ConfigError("bridge.federation_pubkeys is empty: there is no federation vault")
        return cls(
            federation_keys=tuple(bytes.fromhex(key) for key in config.bridge.federation_pubkeys),
            threshold=config.bridge.threshold,
            network=str(Network.named(config.bitcoin.network)),
            usdt_property_id=config.bridge.usdt_property_id,
            policy=config.vault,
        )

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

    def usdt_sources(self) -> list[tuple[str, int, VaultCoin]]:
        """(address, balance, first anchor) of each address that can send USDT now, the largest
        balance first (then by name)."""
        return [
            (address, balance, self.anchors[address][0])
            for address, balance in sorted(self.usdt.items(), key=lambda kv: (-kv[1], kv[0]))
            if self.anchors.get(address)
        ]

    def usdt_source(self, amount: int, exclude: Iterable[str] = ()) -> UsdtSource | None:
        """The first address (see `usdt_sources`) holding at least `amount`, not in `exclude`."""
        for address, balance, anchor in self.usdt_sources():
            if balance >= amount and address not in exclude:
                return UsdtSource(anchor, keeps_balance=balance > amount)
        return None


@dataclass(frozen=True)
class SpendView:
    """A vault spend as the ledger holds it: its decoded PSBT and what it pays."""

    release: Release
    psbt: Psbt
    inputs: frozenset[str]  # outpoints spent

    @property
    def txid(self) -> str:
        return self.release.txid


@dataclass(frozen=True)
class VaultView:
    """What one ledger says the vault holds (read in one transaction, used without it)."""

    settings: VaultSettings
    minted: dict[str, Deposit]  # outpoint -> minted deposit (BTC and USDT)
    scripts: dict[str, DepositScript]  # address -> vault script (the change address included)
    spends: tuple[SpendView, ...]  # live spends, building .. confirmed
    usdt: dict[str, int]  # address -> USDT held there

    def sent(self) -> list[SpendView]:
        """Spends broadcast or confirmed."""
        return [s for s in self.spends if s.release.status in SENT_SPENDS]

    def consumed(self, *statuses: ReleaseStatus) -> set[str]:
        """Outpoints spent by the live spends in `statuses` (all live spends if none given)."""
        chosen = statuses or LIVE_SPENDS
        return set().union(*(s.inputs for s in self.spends if s.release.status in chosen))

    def script_of(self, script_pubkey: bytes) -> DepositScript | None:
        """The vault script behind an output script, None if it is not the vault's."""
        for script in self.scripts.values():
            if script.script_pubkey == script_pubkey:
                return script
        return None

    def own_outputs(self) -> dict[str, tuple[int, DepositScript]]:
        """outpoint -> (sats, script) of every output of a sent spend paying a vault script."""
        outputs: dict[str, tuple[int, DepositScript]] = {}
        for spend in self.sent():
            for n, out in enumerate(spend.psbt.tx.vout):
                script = self.script_of(bytes(out.scriptPubKey))
                if script is not None:
                    outputs[f"{spend.txid}:{n}"] = (out.nValue, script)
        return outputs

    def candidates(self) -> dict[str, DepositScript]:
        """outpoint -> script of every coin the ledger says the vault holds or held, less what
        its confirmed spends consumed (those are gone for certain)."""
        coins = {outpoint: script for outpoint, (_, script) in self.own_outputs().items()}
        for outpoint, deposit in self.minted.items():
            script = self.scripts.get(deposit.deposit_address)
            if script is not None:
                coins[outpoint] = script
        gone = self.consumed(ReleaseStatus.CONFIRMED)
        return {outpoint: script for outpoint, script in coins.items() if outpoint not in gone}

    def own_txids(self) -> set[str]:
        return {s.txid for s in self.spends}


def vault_view(ledger: Ledger, settings: VaultSettings) -> VaultView:
    """Everything the vault's coin and solvency logic needs from one ledger."""
    minted = {d.id: d for d in ledger.deposits.with_status(DepositStatus.MINTED)}
    scripts = {settings.change_address: settings.change}
    for address in {d.deposit_address for d in minted.values()}:
        row = ledger.deposit_addresses.get(address)
        if row is None:
            continue
        script = DepositScript.parse(bytes.fromhex(row.witness_script))
        if settings.owns(script):
            scripts[address] = script
    spends = tuple(
        SpendView(release, psbt, frozenset(spent_outpoints(psbt)))
        for release in ledger.releases.with_status(*LIVE_SPENDS)
        if release.psbt
        for psbt in (Psbt.from_base64(release.psbt),)
    )
    usdt = _usdt_held(minted.values(), (s.psbt for s in spends), settings.network)
    return VaultView(settings, minted, scripts, spends, usdt)


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
    spends = [Psbt.from_base64(r.psbt) for r in ledger.releases.with_status(*LIVE_SPENDS) if r.psbt]
    return _usdt_held(ledger.deposits.with_status(DepositStatus.MINTED), spends, network)


def _usdt_held(minted: Iterable[Deposit], spends: Iterable[Psbt], network: str) -> dict[str, int]:
    holdings: dict[str, int] = {}
    for deposit in minted:
        if deposit.asset == Asset.USDT:
            address = deposit.deposit_address
            holdings[address] = holdings.get(address, 0) + deposit.amount
    for psbt in spends:
        send = omni_send_of(psbt, network)
        if send is not None:
            sender, message = send
            holdings[sender] = holdings.get(sender, 0) - message.amount
    return {address: amount for address, amount in holdings.items() if amount > 0}


async def unspent(
    rpc: RPCClient, outpoints: Iterable[str], *, include_mempool: bool
) -> dict[str, int]:
    """outpoint -> sats of those `outpoints` bitcoind holds unspent (one batched round trip).
    With `include_mempool`, a coin spent in the mempool is gone and a mempool output is there."""
    wanted = sorted(outpoints)
    calls = [
        ("gettxout", [outpoint.split(":")[0], int(outpoint.split(":")[1]), include_mempool])
        for outpoint in wanted
    ]
    found = await rpc.batch(calls)
    return {
        outpoint: to_sats(out["value"])
        for outpoint, out in zip(wanted, found, strict=True)
        if out is not None
    }


async def scan_address(rpc: RPCClient, address: str) -> dict[str, int]:
    """outpoint -> sats of the confirmed coins at `address` (scantxoutset; retried while
    another scan, e.g. another member's on a shared bitcoind, is running)."""
    for _ in range(SCAN_RETRIES):
        try:
            result = await rpc.call("scantxoutset", "start", [f"addr({address})"])
        except BitcoinRPCError as error:
            if error.code != SCAN_IN_PROGRESS:
                raise
            await asyncio.sleep(0.1)
            continue
        return {f"{u['txid']}:{u['vout']}": to_sats(u["amount"]) for u in result["unspents"]}
    raise BitcoinRPCError(SCAN_IN_PROGRESS, "scantxoutset stayed busy", "scantxoutset")


class Vault:
    """Finds the vault's spendable coins on this member's bitcoind, by this member's ledger."""

    def __init__(
        self, settings: VaultSettings, sessions: sessionmaker[Session], rpc: RPCClient
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._rpc = rpc
        self._topups: tuple[str, dict[str, int]] | None = None  # (tip hash, coins) cache

    @property
    def settings(self) -> VaultSettings:
        return self._settings

    @property
    def policy(self) -> VaultConfig:
        return self._settings.policy

    async def fee_rate(self) -> int:
        """sat per 1000 vbytes: bitcoind's estimate for the target, never below the floor."""
        estimate = await self._rpc.call("estimatesmartfee", self.policy.fee_target_blocks)
        rate = to_sats(estimate["feerate"]) if "feerate" in estimate else 0
        return max(rate, self.policy.fee_floor)

    def view(self) -> VaultView:
        with self._sessions() as session:
            return vault_view(Ledger(session), self._settings)

    async def change_coins(self) -> dict[str, int]:
        """The confirmed coins at the change address, scanned at most once per Bitcoin block."""
        tip = str(await self._rpc.call("getbestblockhash"))
        if self._topups is None or self._topups[0] != tip:
            self._topups = (tip, await scan_address(self._rpc, self._settings.change_address))
        return self._topups[1]

    async def coins(self) -> VaultCoins:
        """The confirmed coins the vault may spend now (none that a live spend already uses)."""
        view = self.view()
        change = self._settings.change
        candidates = view.candidates()
        candidates.update(dict.fromkeys(await self.change_coins(), change))
        busy = view.consumed(*UNCONFIRMED_SPENDS)
        found = await unspent(self._rpc, set(candidates) - busy, include_mempool=False)
        own_txids = view.own_txids()
        funding: list[VaultCoin] = []
        anchors: dict[str, list[VaultCoin]] = {}
        for outpoint, amount in sorted(found.items()):
            script = candidates[outpoint]
            txid, vout = outpoint.split(":")
            coin = VaultCoin(txid, int(vout), amount, script)
            address = script.address(self._settings.network)
            deposit = view.minted.get(outpoint)
            if script == change or (deposit is not None and deposit.asset == Asset.BTC):
                funding.append(coin)
            elif address in view.usdt and (deposit is not None or txid in own_txids):
                anchors.setdefault(address, []).append(coin)
        return VaultCoins(
            tuple(funding), {a: tuple(coins) for a, coins in anchors.items()}, view.usdt
        )
