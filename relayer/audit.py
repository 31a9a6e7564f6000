"""`sluice audit`: the solvency invariant, per asset, from the node, bitcoind and the ledger.

    sidechain supply = bridge holdings on Bitcoin - withdrawals in flight

All figures are Bitcoin base units (sats; USDT units of 10^-8).
* BTC sidechain supply: BTC is the sidechain's gas coin, so "bridged BTC" is defined by the
  Bridge itself: the sum of its BTC `Deposited` events (sats minted to recipients) minus the
  BTC the Bridge holds (withdrawals lock their BTC in the Bridge; a refund gives it back).
  Genesis gas balances are not bridged BTC and are not counted.
* USDT sidechain supply: the USDT token's totalSupply().
* BTC holdings: the unspent outputs of the deposits this ledger holds as minted (bitcoind's
  gettxout; an output a release spent is gone) plus the coins at the vault change address
  (scantxoutset).
* USDT holdings: the Omni balances (an indexer run over the chain from
  relayer.scan_start_height) of the addresses of minted USDT deposits and of the vault change
  address.
* In flight: the ledger's withdrawals not yet paid on Bitcoin (requested .. releasing).
"""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bridge.bitcoin.chain import sync_stage
from bridge.bitcoin.deposit_script import DepositScript
from bridge.bitcoin.omni.indexer import OmniIndexer
from bridge.bitcoin.rpc import BitcoinRPC
from bridge.ledger import Asset, Deposit, DepositStatus, Withdrawal, WithdrawalStatus
from relayer.node_client import Deposited, NodeClient
from sidechain.predeploys import BRIDGE_ADDRESS
from sluice.config import Config

WEI_PER_SAT = 10**10
IN_FLIGHT = (
    WithdrawalStatus.REQUESTED,
    WithdrawalStatus.WINDOW_OPEN,
    WithdrawalStatus.CHALLENGED,
    WithdrawalStatus.READY,
    WithdrawalStatus.RELEASING,
)
LOG_CHUNK_BLOCKS = 5000


@dataclass(frozen=True)
class Solvency:
    """One asset's terms; `terms` lists every figure that went into them, for printing."""

    asset: Asset
    sidechain_supply: int
    bitcoin_holdings: int
    in_flight: int
    terms: tuple[tuple[str, int], ...]

    @property
    def surplus(self) -> int:
        """Supply not backed on Bitcoin (positive: the bridge is short by that much)."""
        return self.sidechain_supply - (self.bitcoin_holdings - self.in_flight)

    @property
    def holds(self) -> bool:
        return self.surplus == 0

    def lines(self) -> list[str]:
        verdict = "OK" if self.holds else "BROKEN"
        out = [f"{self.asset}: {verdict}"]
        out += [f"  {name:<40} {value:>20}" for name, value in self.terms]
        out.append(
            f"  supply {self.sidechain_supply} {'==' if self.holds else '!='} holdings "
            f"{self.bitcoin_holdings} - in flight {self.in_flight} "
            f"(= {self.bitcoin_holdings - self.in_flight})"
        )
        out.append(f"  {'unbacked supply':<40} {self.surplus:>20}")
        return out


def vault_change_address(config: Config) -> str | None:
    keys = config.bridge.federation_pubkeys
    if not keys:
        return None
    script = DepositScript(
        bytes(20), tuple(bytes.fromhex(k) for k in keys), config.bridge.threshold
    )
    return script.address(config.bitcoin.network)


async def minted_by_asset(node: NodeClient) -> dict[int, int]:
    """Sum of the Bridge's Deposited amounts per asset code, over the whole chain."""
    head = await node.block_number()
    totals = {0: 0, 1: 0}
    for start in range(0, head + 1, LOG_CHUNK_BLOCKS):
        end = min(head, start + LOG_CHUNK_BLOCKS - 1)
        for event in await node.bridge_events(start, end, ["Deposited"]):
            if isinstance(event, Deposited):
                totals[event.asset] += event.amount
    return totals


def _in_flight(session: Session, asset: Asset) -> int:
    query = select(func.coalesce(func.sum(Withdrawal.amount), 0)).where(
        Withdrawal.asset == asset, Withdrawal.status.in_(IN_FLIGHT)
    )
    return int(session.scalar(query) or 0)


def _minted(session: Session, asset: Asset) -> Sequence[Deposit]:
    query = select(Deposit).where(Deposit.asset == asset, Deposit.status == DepositStatus.MINTED)
    return session.scalars(query).all()


async def _unspent_sats(rpc: BitcoinRPC, deposits: Sequence[Deposit]) -> int:
    if not deposits:
        return 0
    outs = await rpc.batch([("gettxout", [d.txid, d.vout]) for d in deposits])
    return sum(round(out["value"] * 10**8) for out in outs if out is not None)


async def _coins_at(rpc: BitcoinRPC, address: str | None) -> int:
    if address is None:
        return 0
    found = await rpc.call("scantxoutset", "start", [f"addr({address})"])
    return round(found["total_amount"] * 10**8)


async def _omni_balances(
    rpc: BitcoinRPC, start_height: int, addresses: set[str], property_id: int
) -> int:
    indexer = OmniIndexer(start_height=start_height)
    await sync_stage(rpc, indexer, batch_size=50)
    return sum(indexer.balance(address, property_id) for address in addresses)


async def audit(
    config: Config, session: Session, rpc: BitcoinRPC, node: NodeClient
) -> list[Solvency]:
    """Both assets' solvency terms (reads only)."""
    minted = await minted_by_asset(node)
    locked_sats = await node.balance("0x" + BRIDGE_ADDRESS.hex()) // WEI_PER_SAT
    change = vault_change_address(config)
    btc_deposits = _minted(session, Asset.BTC)
    usdt_deposits = _minted(session, Asset.USDT)
    btc_unspent = await _unspent_sats(rpc, btc_deposits)
    btc_change = await _coins_at(rpc, change)
    usdt_addresses = {d.deposit_address for d in usdt_deposits} | ({change} if change else set())
    usdt_held = await _omni_balances(
        rpc, config.relayer.scan_start_height, usdt_addresses, config.bridge.usdt_property_id
    )
    usdt_supply = await node.usdt_total_supply()
    btc_flight, usdt_flight = _in_flight(session, Asset.BTC), _in_flight(session, Asset.USDT)
    btc = Solvency(
        Asset.BTC,
        sidechain_supply=minted[0] - locked_sats,
        bitcoin_holdings=btc_unspent + btc_change,
        in_flight=btc_flight,
        terms=(
            ("sidechain: minted by Deposited events", minted[0]),
            ("sidechain: locked in the Bridge", locked_sats),
            ("sidechain: supply", minted[0] - locked_sats),
            (f"bitcoin: unspent minted deposits ({len(btc_deposits)})", btc_unspent),
            ("bitcoin: vault change address", btc_change),
            ("ledger: withdrawals in flight", btc_flight),
        ),
    )
    usdt = Solvency(
        Asset.USDT,
        sidechain_supply=usdt_supply,
        bitcoin_holdings=usdt_held,
        in_flight=usdt_flight,
        terms=(
            ("sidechain: minted by Deposited events", minted[1]),
            ("sidechain: USDT totalSupply()", usdt_supply),
            (f"bitcoin: Omni balance of {len(usdt_addresses)} vault addresses", usdt_held),
            ("ledger: withdrawals in flight", usdt_flight),
        ),
    )
    return [btc, usdt]
