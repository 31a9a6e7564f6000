"""The chains behind the bridge: contracts to call, fees, and the bridge's status.

The status's solvency rows come from relayer.audit (`Auditor.check`), the function behind
`sluice audit`, over the API's ledger and its short, never-retried upstream calls; its
economic security from relayer.security, as `sluice audit` reports it.
"""

import asyncio
import contextlib
import time
import weakref
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

from aiohttp import web
from eth_utils import to_checksum_address

from bridge.ledger import Asset, Ledger
from relayer.api import bridge_state
from relayer.api.chain import ChainClients
from relayer.api.context import CHAIN, CONFIG, in_ledger
from relayer.api.errors import UpstreamUnavailable
from relayer.api.routes.respond import json_response
from relayer.api.views import Json, timestamp
from relayer.audit import Auditor, LedgerFigures, NodeReads, Solvency, read_ledger
from relayer.security import read_security
from relayer.vault import VaultSettings
from sidechain import predeploys
from sidechain.contracts.artifacts import load_artifact

T = TypeVar("T")
routes = web.RouteTableDef()
BRIDGE_FEE_BPS = 0  # the Bridge contract mints and burns 1:1 and charges no fee
FEE_TARGETS = (1, 6, 144)
ASSET_IDS = {"BTC": 0, "USDT": 1}  # the Bridge's `asset: uint8` (ASSET_BTC, ASSET_USDT)
PREDEPLOYED = (("Bridge", predeploys.BRIDGE_ADDRESS), ("USDT", predeploys.USDT_ADDRESS))
SOLVENCY_WAIT_S = 2.5  # how long a status answer waits for a solvency check under way
SOLVENCY_MAX_AGE_S = 5.0  # a solvency result is reused this long
BITCOIND_PARALLEL_CALLS = 8  # under bitcoind's RPC work queue (16 by default)


@routes.get("/v1/contracts")
async def contracts(request: web.Request) -> web.Response:
    chain_id = await request.app[CHAIN].chain_id()
    return json_response(
        {
            "chain_id": chain_id,
            "rpc_url": request.app[CONFIG].api.node_rpc_url,
            "asset_ids": ASSET_IDS,
            "contracts": [
                {
                    "name": name,
                    "address": to_checksum_address(address),
                    "abi": list(load_artifact(name).abi),
                }
                for name, address in PREDEPLOYED
            ],
        }
    )


@routes.get("/v1/fees")
async def fees(request: web.Request) -> web.Response:
    chain = request.app[CHAIN]
    rates = await asyncio.gather(*(chain.fee_estimate(target) for target in FEE_TARGETS))
    return json_response(
        {
            "bridge_fee": {"deposit_bps": BRIDGE_FEE_BPS, "withdrawal_bps": BRIDGE_FEE_BPS},
            "bitcoin_fee_estimates": [
                {"target_blocks": target, "sat_per_kvb": rate}
                for target, rate in zip(FEE_TARGETS, rates, strict=True)
            ],
        }
    )


@routes.get("/v1/status")
async def status(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    chain = request.app[CHAIN]
    tip, head, chain_id = await asyncio.gather(
        chain.bitcoin_tip_or_none(), chain.sidechain_head_or_none(), _or_none(chain.chain_id())
    )
    settings = VaultSettings.from_config(config) if config.bridge.federation_pubkeys else None

    def read(ledger: Ledger) -> tuple[Json, LedgerFigures | None]:
        block = ledger.blocks.tip()
        pause = bridge_state.pause_state(ledger)
        members = bridge_state.members(ledger, config.bridge.federation_pubkeys)
        scanned = None if block is None else block.height
        body: Json = {
            "bitcoin": {
                "network": config.bitcoin.network,
                "reachable": tip is not None,
                "tip": tip,
            },
            "sidechain": {"reachable": head is not None, "head": head, "chain_id": chain_id},
            "relayer": {
                "bitcoin_height": scanned,
                "bitcoin_lag_blocks": None if tip is None or scanned is None else tip - scanned,
                "cursors": [
                    {"name": c.name, "position": c.position, "updated_at": timestamp(c.updated_at)}
                    for c in ledger.cursors.all()
                ],
            },
            "federation": {
                "threshold": config.bridge.threshold,
                "live": sum(member.live for member in members),
                "members": [
                    {
                        "public_key": member.public_key,
                        "evm_address": member.evm_address,
                        "live": member.live,
                        "last_signature_at": timestamp(member.last_signature_at),
                    }
                    for member in members
                ],
            },
            "paused": pause.paused,
            "pause_reason": pause.reason,
            "counts": {
                "deposits": ledger.deposits.count_by_status(),
                "withdrawals": ledger.withdrawals.count_by_status(),
                "open_claims": ledger.claims.count_by_status().get("open", 0),
            },
        }
        return body, None if settings is None else read_ledger(ledger, settings)

    body, figures = await in_ledger(request, read)
    solved = None
    if settings is not None and figures is not None and tip is not None and head is not None:
        audits = _AUDITS.setdefault(
            request.app, SolvencyCheck(Auditor(settings, config.relayer.scan_start_height))
        )
        solved = await audits.result(figures, _Bitcoin(chain), chain.node)
    body["solvency"] = [_solvency_row(asset, figures, solved) for asset in Asset]
    body["security"] = None
    # Null when the node is down (or went away meanwhile).
    if head is not None:
        with contextlib.suppress(UpstreamUnavailable):
            body["security"] = (await read_security(chain.node, solved)).to_json()
    return json_response(body)


class _Bitcoin:
    """bitcoind as relayer.audit reads it, through the API's short, never-retried calls."""

    def __init__(self, chain: ChainClients) -> None:
        self._chain = chain

    async def call(self, method: str, *params: Any) -> Any:
        return await self._chain.bitcoin(method, *params)

    async def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        results: list[Any] = []
        for start in range(0, len(calls), BITCOIND_PARALLEL_CALLS):
            chunk = calls[start : start + BITCOIND_PARALLEL_CALLS]
            results += await asyncio.gather(*(self.call(m, *p) for m, p in chunk))
        return results


class SolvencyCheck:
    """One auditor per app (it keeps what it read of both chains): one check at a time, its
    result reused for `SOLVENCY_MAX_AGE_S`. A status answer waits for a running check at most
    `SOLVENCY_WAIT_S`; the check goes on and the next answer has it."""

    def __init__(self, auditor: Auditor) -> None:
        self._auditor = auditor
        self._task: asyncio.Task[list[Solvency]] | None = None
        self._finished_at = 0.0

    async def result(
        self, figures: LedgerFigures, bitcoin: _Bitcoin, node: NodeReads
    ) -> list[Solvency] | None:
        """The latest solvency, None when the upstreams fail or the check is still running."""
        task = self._task
        stale = time.monotonic() - self._finished_at > SOLVENCY_MAX_AGE_S
        if task is None or (task.done() and (stale or task.exception() is not None)):
            task = self._task = asyncio.create_task(self._run(figures, bitcoin, node))
        try:
            return await asyncio.wait_for(asyncio.shield(task), SOLVENCY_WAIT_S)
        except (TimeoutError, UpstreamUnavailable):
            return None

    async def _run(
        self, figures: LedgerFigures, bitcoin: _Bitcoin, node: NodeReads
    ) -> list[Solvency]:
        result = await self._auditor.check(figures, bitcoin, node)
        self._finished_at = time.monotonic()
        return result


_AUDITS: "weakref.WeakKeyDictionary[web.Application, SolvencyCheck]" = weakref.WeakKeyDictionary()


def _solvency_row(
    asset: Asset, figures: LedgerFigures | None, solved: list[Solvency] | None
) -> Json:
    """relayer.audit's figures; without them (an upstream down, no federation configured, the
    first check still running) the ledger's own, with `balanced` null."""
    audited = next((s for s in solved or () if s.asset == asset), None)
    if audited is not None:
        return {
            "asset": asset.value,
            "deposited": audited.minted,
            "paid_out": audited.paid_out,
            "in_flight": audited.in_flight,
            "expected_sidechain_supply": audited.backing,
            "sidechain_supply": audited.sidechain_supply,
            "balanced": audited.holds,
        }
    deposited = paid_out = in_flight = 0
    if figures is not None:
        deposited = sum(d.amount for d in figures.vault.minted.values() if d.asset == asset)
        paid_out, in_flight = figures.paid_out[asset], figures.in_flight[asset]
    return {
        "asset": asset.value,
        "deposited": deposited,
        "paid_out": paid_out,
        "in_flight": in_flight,
        "expected_sidechain_supply": deposited - paid_out - in_flight,
        "sidechain_supply": None,
        "balanced": None,
    }


async def _or_none(call: Awaitable[T]) -> T | None:
    """The call's result, or None when its upstream is down (status degrades, not fails)."""
    try:
        return await call
    except UpstreamUnavailable:
        return None
