"""Test USDT on regtest: a managed Omni property issued and sent by wallet-signed transactions."""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

from bridge.bitcoin.chain import sync_stage
from bridge.bitcoin.errors import BitcoinRPCError
from bridge.bitcoin.omni.indexer import OmniIndexer
from bridge.bitcoin.omni.payload import (
    CreateManagedProperty,
    GrantTokens,
    OmniMessage,
    SimpleSend,
    encode,
)
from bridge.bitcoin.rpc import BitcoinRPC
from regtest.node import BitcoindNode

ISSUER_LABEL = "omni-issuer"
REFERENCE_BTC = Decimal("0.00001")  # the reference output: above dust for every output type
SENDER_FUNDING_BTC = Decimal("0.001")  # a fresh first input when the sender has no confirmed coin
RPC_INVALID_ADDRESS_OR_KEY = -11
_indexers: dict[Path, OmniIndexer] = {}


def omni_state(node: BitcoindNode) -> OmniIndexer:
    """An Omni indexer over `node`'s best chain, synced to its tip (kept per datadir)."""
    indexer = _indexers.setdefault(node.datadir, OmniIndexer())

    async def sync() -> None:
        async with BitcoinRPC(node.rpc_url, user=node.rpc_user, password=node.rpc_password) as rpc:
            await sync_stage(rpc, indexer, batch_size=100)

    # A thread of its own, so this works from sync code and from inside a running event loop.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, sync()).result()
    return indexer


def issuer_address(node: BitcoindNode) -> str:
    """The wallet address that issues test USDT (the same one on every call)."""
    try:
        return str(next(iter(node.rpc("getaddressesbylabel", ISSUER_LABEL))))
    except BitcoinRPCError as error:
        if error.code != RPC_INVALID_ADDRESS_OR_KEY:
            raise
        return str(node.rpc("getnewaddress", ISSUER_LABEL, "bech32"))


def issue_usdt(node: BitcoindNode, amount: int, name: str = "Tether USD (regtest)") -> int:
    """Create a managed property (type 54), grant `amount` base units to the issuer (type 55)
    and mine both; returns the new property id."""
    issuer = issuer_address(node)
    create_txid = broadcast_omni(node, issuer, CreateManagedProperty(name))
    node.mine(1)
    (property_id,) = (
        prop.property_id
        for prop in omni_state(node).properties.values()
        if prop.created_txid == create_txid
    )
    broadcast_omni(node, issuer, GrantTokens(property_id, amount))
    node.mine(1)
    return property_id


def send_usdt(
    node: BitcoindNode,
    to: str,
    amount: int,
    *,
    sender: str | None = None,
    property_id: int | None = None,
) -> str:
    """Broadcast a simple send (type 0) of `amount` to `to`; returns the txid (not mined).

    The sender defaults to the issuer and the property to the issuer's latest one. Nothing is
    checked against balances: an overspend is broadcast and mined, and the indexer marks it.
    """
    sender = sender or issuer_address(node)
    if property_id is None:
        issued = [p.property_id for p in omni_state(node).properties.values() if p.issuer == sender]
        property_id = max(issued)
    return broadcast_omni(node, sender, SimpleSend(property_id, amount), reference=to)


def broadcast_omni(
    node: BitcoindNode, sender: str, message: OmniMessage, reference: str | None = None
) -> str:
    """A class C transaction: first input from `sender`, the OP_RETURN, then the reference
    output (if any), change back to `sender` last; funded, signed by the wallet, broadcast."""
    first_input = _coin_of(node, sender)
    outputs: list[dict[str, Any]] = [{"data": encode(message).hex()}]
    if reference is not None:
        outputs.append({reference: REFERENCE_BTC})
    unsigned = node.rpc("createrawtransaction", [first_input], outputs)
    options = {"changeAddress": sender, "changePosition": len(outputs)}
    funded = node.rpc("fundrawtransaction", unsigned, options)["hex"]
    signed = node.rpc("signrawtransactionwithwallet", funded)
    if not signed["complete"]:
        raise BitcoinRPCError(0, f"wallet could not sign: {signed.get('errors')}", "omni tx")
    vin = node.rpc("decoderawtransaction", signed["hex"], wallet=False)["vin"][0]
    assert (vin["txid"], vin["vout"]) == (first_input["txid"], first_input["vout"])
    return node.send_raw(signed["hex"])


def _coin_of(node: BitcoindNode, address: str) -> dict[str, Any]:
    """A confirmed coin of `address`, or a freshly funded (unconfirmed) one."""
    coins = node.rpc("listunspent", 1, 9_999_999, [address])
    if coins:
        return {"txid": coins[0]["txid"], "vout": coins[0]["vout"]}
    txid = node.fund(address, SENDER_FUNDING_BTC)
    outputs = node.rpc("getrawtransaction", txid, True, wallet=False)["vout"]
    (vout,) = (out["n"] for out in outputs if out["scriptPubKey"].get("address") == address)
    return {"txid": txid, "vout": vout}
