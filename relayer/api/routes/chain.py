"""The chains behind the bridge: contracts to call, fees, and the bridge's status."""

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from aiohttp import web
from eth_utils import function_signature_to_4byte_selector, to_checksum_address

from bridge.ledger.ledger import Ledger
from relayer.api import bridge_state
from relayer.api.context import CHAIN, CONFIG, in_ledger
from relayer.api.errors import UpstreamUnavailable
from relayer.api.routes.respond import json_response
from relayer.api.views import Json, timestamp
from sidechain import predeploys
from sidechain.contracts.artifacts import load_artifact

T = TypeVar("T")
routes = web.RouteTableDef()
BRIDGE_FEE_BPS = 0  # the Bridge contract mints and burns 1:1 and charges no fee
FEE_TARGETS = (1, 6, 144)
ASSET_IDS = {"BTC": 0, "USDT": 1}  # the Bridge's `asset: uint8` (ASSET_BTC, ASSET_USDT)
PREDEPLOYED = (("Bridge", predeploys.BRIDGE_ADDRESS), ("USDT", predeploys.USDT_ADDRESS))
TOTAL_SUPPLY = "0x" + function_signature_to_4byte_selector("totalSupply()").hex()


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
    tip, head, chain_id, usdt_supply = await asyncio.gather(
        chain.bitcoin_tip_or_none(),
        chain.sidechain_head_or_none(),
        _or_none(chain.chain_id()),
        _or_none(chain.node.call("eth_call", {"to": _usdt(), "data": TOTAL_SUPPLY}, "latest")),
    )
    supplies = {"USDT": None if usdt_supply is None else int(usdt_supply, 16)}

    def read(ledger: Ledger) -> Json:
        block = ledger.blocks.tip()
        pause = bridge_state.pause_state(ledger)
        members = bridge_state.members(ledger, config.bridge.federation_pubkeys)
        cursors = [c for c in ledger.cursors.all() if c.name != bridge_state.PAUSE_CURSOR]
        scanned = None if block is None else block.height
        return {
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
                    for c in cursors
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
            "solvency": [_solvency(balance, supplies) for balance in bridge_state.balances(ledger)],
            "counts": {
                "deposits": ledger.deposits.count_by_status(),
                "withdrawals": ledger.withdrawals.count_by_status(),
                "open_claims": ledger.claims.count_by_status().get("open", 0),
            },
        }

    return json_response(await in_ledger(request, read))


def _solvency(balance: bridge_state.AssetBalance, supplies: dict[str, int | None]) -> Json:
    supply = supplies.get(balance.asset.value)
    return {
        "asset": balance.asset.value,
        "deposited": balance.deposited,
        "paid_out": balance.paid_out,
        "in_flight": balance.in_flight,
        "expected_sidechain_supply": balance.expected_supply,
        "sidechain_supply": supply,
        "balanced": None if supply is None else supply == balance.expected_supply,
    }


def _usdt() -> str:
    return to_checksum_address(predeploys.USDT_ADDRESS)


async def _or_none(call: Awaitable[T]) -> T | None:
    """The call's result, or None when its upstream is down (status degrades, not fails)."""
    try:
        return await call
    except UpstreamUnavailable:
        return None
