"""Deposit addresses and deposits: make an address, list deposits, follow one by `txid:vout`."""

from collections.abc import Sequence

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bridge.bitcoin.deposit_script import DepositScript
from bridge.bitcoin.network import Network
from bridge.ledger.ledger import Ledger
from bridge.ledger.models import AuditEntry, Deposit, DepositAddress
from bridge.ledger.states import DEPOSIT, DepositStatus
from relayer.api import params
from relayer.api.bridge_state import pause_state
from relayer.api.context import CONFIG, in_ledger
from relayer.api.errors import BridgePaused, FederationNotConfigured, NotFound
from relayer.api.routes.respond import json_response
from relayer.api.views import REFUSED, Json, deposit_address_view, deposit_view, page_view
from sluice.config import Config

routes = web.RouteTableDef()


@routes.post("/v1/deposit-addresses")
async def create_deposit_address(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    body = await params.json_object(request, config.api.max_body_bytes)
    params.body_fields(body, required={"evm_address"}, optional={"refund_pubkey"})
    recipient = params.evm_address("evm_address", body["evm_address"])
    refund_key = body.get("refund_pubkey")
    if refund_key is not None:
        refund_key = params.public_key("refund_pubkey", refund_key)
    bridge = config.bridge
    if not bridge.federation_pubkeys:
        raise FederationNotConfigured("bridge.federation_pubkeys is empty: no address can be made")
    timeout = None if refund_key is None else bridge.refund_timeout_blocks
    script = DepositScript.create(
        recipient, bridge.federation_pubkeys, bridge.threshold, refund_key, timeout
    )
    address = script.address(Network.named(config.bitcoin.network))

    def store(ledger: Ledger) -> tuple[Json, bool]:
        if pause_state(ledger).paused:
            raise BridgePaused("the bridge is paused: send no deposit until it resumes")
        created = ledger.deposit_addresses.get(address) is None
        row = ledger.deposit_addresses.add(
            address,
            script.witness_script.hex(),
            recipient,
            refund_pubkey=refund_key,
            refund_timeout=timeout,
        )
        ledger.session.flush()  # fills the timestamps the view shows
        return deposit_address_view(row), created

    try:
        view, created = await in_ledger(request, store)
    except IntegrityError:
        # Another request made the same address between our look and our insert (the address
        # is a function of the request, so its row is this one): answer with that row.
        view, created = await in_ledger(request, store)
    return json_response({**view, **deposit_terms(config)}, status=201 if created else 200)


def deposit_terms(config: Config) -> Json:
    """What a depositor must know before paying: who holds the coins, minimums, depth."""
    bridge = config.bridge
    return {
        "network": config.bitcoin.network,
        "federation": {
            "public_keys": sorted(key.lower() for key in bridge.federation_pubkeys),
            "threshold": bridge.threshold,
        },
        "minimum_amounts": {"BTC": bridge.min_deposit_sats, "USDT": bridge.min_deposit_usdt},
        "usdt_property_id": bridge.usdt_property_id,
        "confirmations": config.bitcoin.confirmations,
    }


@routes.get("/v1/deposits")
async def list_deposits(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    network = Network.named(config.bitcoin.network)
    filters, page = params.transfer_filters(
        request.query, network, DepositStatus, "recipient", "deposit_address"
    )

    def read(ledger: Ledger) -> Json:
        found = ledger.deposits.page(**filters, cursor=page.cursor, limit=page.limit)
        addresses = _addresses(ledger, found.items)
        details = _rejection_details(ledger, found.items)
        depth = config.bitcoin.confirmations
        items = [
            deposit_view(d, addresses.get(d.deposit_address), depth, details.get(d.id))
            for d in found.items
        ]
        return page_view(items, found.next_cursor)

    return json_response(await in_ledger(request, read))


@routes.get("/v1/deposits/{deposit_id}")
async def get_deposit(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    params.only_known(request.query, set())
    wanted = params.deposit_id(request.match_info["deposit_id"])

    def read(ledger: Ledger) -> Json:
        deposit = ledger.deposits.get(wanted)
        if deposit is None:
            raise NotFound(f"no deposit {wanted} in this relayer's ledger (yet)")
        address = ledger.deposit_addresses.get(deposit.deposit_address)
        detail = _rejection_details(ledger, [deposit]).get(deposit.id)
        return deposit_view(deposit, address, config.bitcoin.confirmations, detail)

    return json_response(await in_ledger(request, read))


def _addresses(ledger: Ledger, deposits: Sequence[Deposit]) -> dict[str, DepositAddress]:
    """The addresses a page of deposits was paid to, in one query."""
    wanted = {deposit.deposit_address for deposit in deposits}
    if not wanted:
        return {}
    query = select(DepositAddress).where(DepositAddress.address.in_(wanted))
    return {row.address: row for row in ledger.session.scalars(query)}


def _rejection_details(ledger: Ledger, deposits: Sequence[Deposit]) -> dict[str, str]:
    """The scanner's message on each rejected deposit (kept in the audit log), in one query."""
    rejected = [d.id for d in deposits if d.status in REFUSED]
    if not rejected:
        return {}
    query = (
        select(AuditEntry)
        .where(
            AuditEntry.record_kind == DEPOSIT.record_kind,
            AuditEntry.record_id.in_(rejected),
            AuditEntry.to_status == str(DepositStatus.REJECTED),
        )
        .order_by(AuditEntry.id)
    )
    details = {}
    for entry in ledger.session.scalars(query):  # the latest rejection of each wins
        message = (entry.detail or {}).get("message")
        if isinstance(message, str):
            details[entry.record_id] = message
    return details
