"""Withdrawals: list them, follow one by the Bridge's id (challenge window, release, depth)."""

from aiohttp import web

from bridge.bitcoin.network import Network
from bridge.ledger.ledger import Ledger
from bridge.ledger.models import Release
from bridge.ledger.states import WithdrawalStatus
from relayer.api import params
from relayer.api.context import CHAIN, CONFIG, in_ledger
from relayer.api.errors import NotFound
from relayer.api.routes.respond import json_response
from relayer.api.views import Heights, Json, page_view, withdrawal_view

routes = web.RouteTableDef()


async def heights(request: web.Request, sidechain: bool = False) -> Heights:
    """The chains' tips for counting windows down (None where a chain does not answer)."""
    chain = request.app[CHAIN]
    head = await chain.sidechain_head_or_none() if sidechain else None
    return Heights(bitcoin=await chain.bitcoin_tip_or_none(), sidechain=head)


@routes.get("/v1/withdrawals")
async def list_withdrawals(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    network = Network.named(config.bitcoin.network)
    filters, page = params.transfer_filters(
        request.query, network, WithdrawalStatus, "sender", "bitcoin_address"
    )
    tips = await heights(request)

    def read(ledger: Ledger) -> Json:
        found = ledger.withdrawals.page(**filters, cursor=page.cursor, limit=page.limit)
        items = [withdrawal_view(w, _release(ledger, w.release_txid), tips) for w in found.items]
        return page_view(items, found.next_cursor)

    return json_response(await in_ledger(request, read))


@routes.get("/v1/withdrawals/{withdrawal_id}")
async def get_withdrawal(request: web.Request) -> web.Response:
    params.only_known(request.query, set())
    wanted = params.hash32("withdrawal_id", request.match_info["withdrawal_id"])
    tips = await heights(request)

    def read(ledger: Ledger) -> Json:
        withdrawal = ledger.withdrawals.get(wanted)
        if withdrawal is None:
            raise NotFound(f"no withdrawal {wanted} in this relayer's ledger (yet)")
        return withdrawal_view(withdrawal, _release(ledger, withdrawal.release_txid), tips)

    return json_response(await in_ledger(request, read))


def _release(ledger: Ledger, txid: str | None) -> Release | None:
    return None if txid is None else ledger.releases.get(txid)
