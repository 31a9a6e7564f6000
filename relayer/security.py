"""The bridge's economic security: the stake that a false claim of the federation puts at risk,
against the value the bridge holds. Shown by `sluice audit` and `GET /v1/status`.

Per federation member (each is an operator of the OperatorRegistry): whether it is active and
its stake in rsBTC (sats) and rsUSDT (USDT units), `RestakingVault.stake_of`, what a slash
takes its share of. The totals are the vaults' `active_stake()`. The bridge holds, per asset,
what the solvency audit counts as its holdings on Bitcoin.

The security ratio is stake over holdings, in basis points: per asset (for the vault and for
each operator: what slashing that operator alone could cover), and over both assets
in sats when the lending PriceOracle has fresh prices of both (a USDT unit is worth
price(USDT) / price(BTC) sats: both are USD per whole coin, and both coins have 8 decimals);
without prices only the per-asset ratios are given.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_utils import to_checksum_address

from bridge.ledger import Asset
from relayer.audit import NodeReads, Solvency
from sidechain.contracts import load_artifact
from sidechain.predeploys import (
    BRIDGE_ADDRESS,
    BTC_VAULT_ADDRESS,
    ORACLE_ADDRESS,
    REGISTRY_ADDRESS,
    USDT_VAULT_ADDRESS,
)
from sidechain.system_tx import ASSET_BTC, ASSET_USDT

MAX_BPS = 10_000


@dataclass(frozen=True)
class OperatorStake:
    operator: str  # checksummed
    active: bool
    btc: int  # sats
    usdt: int  # USDT units

    def value_sats(self, sats_per_usdt: tuple[int, int] | None) -> int | None:
        return None if sats_per_usdt is None else self.btc + _in_sats(self.usdt, sats_per_usdt)


@dataclass(frozen=True)
class Security:
    operators: tuple[OperatorStake, ...]
    btc_stake: int  # rsBTC active_stake(), sats
    usdt_stake: int  # rsUSDT active_stake(), units
    btc_held: int | None  # the bridge's BTC holdings on Bitcoin, sats (None: not audited)
    usdt_held: int | None
    prices: tuple[int, int] | None  # (BTC, USDT) in USD * 10**8 per coin, when both are fresh

    def ratio_bps(self, asset: Asset) -> int | None:
        """Stake of `asset` over the bridge's holdings of it (None when it holds none)."""
        if asset == Asset.BTC:
            return _ratio(self.btc_stake, self.btc_held)
        return _ratio(self.usdt_stake, self.usdt_held)

    @property
    def stake_sats(self) -> int | None:
        return None if self.prices is None else self.btc_stake + self._sats(self.usdt_stake)

    @property
    def held_sats(self) -> int | None:
        if self.prices is None or self.btc_held is None or self.usdt_held is None:
            return None
        return self.btc_held + self._sats(self.usdt_held)

    @property
    def combined_ratio_bps(self) -> int | None:
        """Both assets' stake over both assets' holdings, in sats (None without prices)."""
        return _ratio(self.stake_sats, self.held_sats)

    def _sats(self, units: int) -> int:
        assert self.prices is not None
        return _in_sats(units, self.prices)

    def to_json(self) -> dict[str, Any]:
        return {
            "btc": self._asset_json(Asset.BTC, self.btc_stake, self.btc_held),
            "usdt": self._asset_json(Asset.USDT, self.usdt_stake, self.usdt_held),
            "prices_usd": None
            if self.prices is None
            else {"BTC": self.prices[0], "USDT": self.prices[1], "decimals": 8},
            "stake_sats": self.stake_sats,
            "held_sats": self.held_sats,
            "ratio_bps": self.combined_ratio_bps,
            "operators": [
                {
                    "operator": op.operator,
                    "active": op.active,
                    "btc_stake": op.btc,
                    "usdt_stake": op.usdt,
                    "value_sats": op.value_sats(self.prices),
                    "btc_ratio_bps": _ratio(op.btc, self.btc_held),
                    "usdt_ratio_bps": _ratio(op.usdt, self.usdt_held),
                }
                for op in self.operators
            ],
        }

    def _asset_json(self, asset: Asset, stake: int, held: int | None) -> dict[str, Any]:
        return {"stake": stake, "held": held, "ratio_bps": self.ratio_bps(asset)}

    def lines(self) -> list[str]:
        out = ["economic security (stake delegated to the federation vs value the bridge holds)"]
        for asset, stake, held in (
            (Asset.BTC, self.btc_stake, self.btc_held),
            (Asset.USDT, self.usdt_stake, self.usdt_held),
        ):
            out.append(
                f"  {asset}: stake {stake} vs held {held}: ratio {_bps(self.ratio_bps(asset))}"
            )
        if self.prices is None:
            out.append("  no fresh BTC and USDT prices in the PriceOracle: no combined ratio")
        else:
            out.append(
                f"  both, in sats: stake {self.stake_sats} vs held {self.held_sats}: "
                f"ratio {_bps(self.combined_ratio_bps)}"
            )
        for op in self.operators:
            state = "active" if op.active else "inactive"
            out.append(
                f"  operator {op.operator} ({state}): {op.btc} sats "
                f"({_bps(_ratio(op.btc, self.btc_held))}), {op.usdt} USDT units "
                f"({_bps(_ratio(op.usdt, self.usdt_held))})"
            )
        return out


async def read_security(node: NodeReads, solvency: Sequence[Solvency] | None) -> Security:
    """The federation's stake (at the node's head) and the audit's holdings (if given)."""
    block = hex(int(await node.call("eth_blockNumber"), 16))
    members = await _view(node, "Bridge", BRIDGE_ADDRESS, "members", block=block)
    operators = []
    for member in members:
        operators.append(
            OperatorStake(
                operator=to_checksum_address(member),
                active=bool(
                    await _view(
                        node, "OperatorRegistry", REGISTRY_ADDRESS, "is_active", member, block=block
                    )
                ),
                btc=await _view(
                    node, "RestakingVault", BTC_VAULT_ADDRESS, "stake_of", member, block=block
                ),
                usdt=await _view(
                    node, "RestakingVault", USDT_VAULT_ADDRESS, "stake_of", member, block=block
                ),
            )
        )
    held = {s.asset: s.bitcoin_holdings for s in solvency or ()}
    return Security(
        operators=tuple(operators),
        btc_stake=await _view(
            node, "RestakingVault", BTC_VAULT_ADDRESS, "active_stake", block=block
        ),
        usdt_stake=await _view(
            node, "RestakingVault", USDT_VAULT_ADDRESS, "active_stake", block=block
        ),
        btc_held=held.get(Asset.BTC),
        usdt_held=held.get(Asset.USDT),
        prices=await _prices(node, block),
    )


async def _prices(node: NodeReads, block: str) -> tuple[int, int] | None:
    """(BTC, USDT) from the PriceOracle's reports, None unless both are posted and fresh at
    `block` (as `price()` would return them; read so that nothing reverts)."""
    header = await node.call("eth_getBlockByNumber", block, False)
    now = int(header["timestamp"], 16)
    max_age = await _view(node, "PriceOracle", ORACLE_ADDRESS, "max_age", block=block)
    prices = []
    for asset in (ASSET_BTC, ASSET_USDT):
        price, posted, _ = await _view(
            node, "PriceOracle", ORACLE_ADDRESS, "reports", asset, block=block
        )
        if price == 0 or now - posted > max_age:
            return None
        prices.append(price)
    return prices[0], prices[1]


async def _view(
    node: NodeReads, contract: str, address: bytes, function: str, *args: Any, block: str
) -> Any:
    artifact = load_artifact(contract)
    call = {
        "to": to_checksum_address(address),
        "data": "0x" + artifact.calldata(function, *args).hex(),
    }
    raw = await node.call("eth_call", call, block)
    values = artifact.decode_output(function, bytes.fromhex(str(raw).removeprefix("0x")))
    return values[0] if len(values) == 1 else values


def _in_sats(units: int, prices: tuple[int, int]) -> int:
    return units * prices[1] // prices[0]


def _ratio(stake: int | None, held: int | None) -> int | None:
    """Stake over holdings in basis points (None when either is unknown or nothing is held)."""
    return None if stake is None or not held else stake * MAX_BPS // held


def _bps(value: int | None) -> str:
    return "n/a" if value is None else f"{value / 100:.2f}%"
