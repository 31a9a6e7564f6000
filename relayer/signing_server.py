"""The member's signing server: peers POST signed envelopes, it answers with signed envelopes.

One endpoint, `POST /v1/peer`; the envelope's kind picks the handler: `spend.sign` (check and
sign a vault spend), `spend.broadcast` (follow a spend the coordinator sent), `attest.release`,
`attest.refund` and `attest.commitment` (EIP-712 signatures for the Bridge),
`addresses.announce` (deposit addresses another member handed out, see relayer.gossip). A
refusal is HTTP 409 with the reason; a bad envelope is 400. Bodies above `MAX_MESSAGE_BYTES`
are refused before they are read.
"""

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from relayer.release_errors import BadPeerMessage, ReleaseFlowError
from relayer.signing import MAX_MESSAGE_BYTES, Peer, SigningMember, proposal_from_json, seal, unseal
from sluice.errors import SluiceError

log = logging.getLogger(__name__)
PEER_PATH = "/v1/peer"
Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
MEMBER_KEY = web.AppKey("member", SigningMember)


class SigningServer:
    """Serves `member` to `peers` on host:port; `async with` starts and stops it."""

    def __init__(self, member: SigningMember, peers: list[Peer], host: str, port: int) -> None:
        self._member = member
        self._senders = {peer.address.lower() for peer in peers}
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self._handlers: dict[str, Handler] = {
            "spend.sign": self._sign,
            "spend.broadcast": self._broadcast,
            "attest.release": self._attest_release,
            "attest.refund": self._attest_refund,
            "attest.commitment": self._attest_commitment,
            "addresses.announce": self._learn_addresses,
        }

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_MESSAGE_BYTES)
        app[MEMBER_KEY] = self._member
        app.router.add_post(PEER_PATH, self._handle)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> "SigningServer":
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _handle(self, request: web.Request) -> web.Response:
        try:
            raw = await request.read()
            sender, kind, body = unseal(raw, self._senders)
            handler = self._handlers.get(kind)
            if handler is None:
                raise BadPeerMessage(f"unknown message kind {kind!r}")
        except (BadPeerMessage, web.HTTPRequestEntityTooLarge) as error:
            return self._reply("error", {"reason": str(error)}, 400)
        try:
            return self._reply(kind, await handler(body), 200)
        except (ReleaseFlowError, SluiceError) as error:
            log.warning("refused %s from %s: %s", kind, sender, error)
            return self._reply("error", {"reason": str(error)}, 409)

    def _reply(self, kind: str, body: dict[str, Any], status: int) -> web.Response:
        return web.Response(
            body=seal(kind, body, self._member.keys),
            status=status,
            content_type="application/json",
        )

    async def _sign(self, body: dict[str, Any]) -> dict[str, Any]:
        signatures = await self._member.sign_spend(proposal_from_json(body))
        return {
            "pubkey": self._member.keys.bitcoin_public.hex(),
            "signatures": {str(i): s.hex() for i, s in signatures.items()},
        }

    async def _broadcast(self, body: dict[str, Any]) -> dict[str, Any]:
        proposal = proposal_from_json(body)
        await self._member.record_broadcast(proposal, str(body["raw_tx"]), int(body["height"]))
        return {"txid": proposal.txid}

    async def _attest_release(self, body: dict[str, Any]) -> dict[str, Any]:
        signature = await self._member.attest_release(
            str(body["withdrawal_id"]), str(body["btc_txid"])
        )
        return {"signature": signature.hex()}

    async def _attest_refund(self, body: dict[str, Any]) -> dict[str, Any]:
        signature = await self._member.attest_refund(str(body["withdrawal_id"]))
        return {"signature": signature.hex()}

    async def _attest_commitment(self, body: dict[str, Any]) -> dict[str, Any]:
        signature = await self._member.attest_commitment(
            int(body["height"]), str(body["state_root"])
        )
        return {"signature": signature.hex()}

    async def _learn_addresses(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"stored": self._member.learn_addresses(body.get("addresses"))}
