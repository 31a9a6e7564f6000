"""`sluice oracle push`: one federation member's price pusher, run beside its relayer.

Each member observes prices from its own source (lending.prices) and signs only a report close
to what it observed itself. When an update is due (the observation moved `trigger_bps` from the
oracle's price, or `heartbeat` seconds passed), the member whose turn the round is (members
sorted by address, round r: member r mod n; the next one takes over after `takeover_after`
seconds, and so on) proposes the report (asset, price, timestamp, round = the oracle's + 1) to
its peers over their authenticated co-signing endpoints, gathers the threshold's signatures and
posts it from its poster account. A peer signs only if the round is the next one, the time is
within `max_clock_skew` of its own clock, and the price is within `tolerance_bps` of the report
it would make itself. A move beyond the oracle's deviation limit is walked in steps, one round
each. Requests and replies are envelopes signed by the members' EVM keys
(relayer.signing.seal/unseal, relayer.signing_client.PeerClient), accepted only from peers.

Nothing is kept but the chain: the oracle's round and time say what comes next, so a pusher
killed at any point starts again where the chain stands (a report it signed but did not post
only loses a round to the next proposal).
"""

import asyncio
import logging
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from eth_account.signers.local import LocalAccount

from lending.account import Sender, load_account
from lending.errors import CallRefused, LendingError, PriceRefused
from lending.oracle import PriceReport, price_signer, sign_price
from lending.prices import (
    OnChainPrice,
    PriceSource,
    SigningRules,
    price_source,
    step_toward,
    update_due,
)
from lending.views import ASSET_NAMES, read_view
from relayer.daemon import Daemon, stop_on_signals, wait_or_stop
from relayer.errors import NodeError
from relayer.keys import MemberKeys, load_member_keys
from relayer.node_client import NodeClient
from relayer.release_errors import BadPeerMessage, PeerRequestFailed
from relayer.signing import MAX_MESSAGE_BYTES, Peer, seal, unseal
from relayer.signing_client import PeerClient
from relayer.signing_server import PEER_PATH
from sidechain.contracts import load_artifact
from sidechain.predeploys import BRIDGE_ADDRESS, ORACLE_ADDRESS
from sluice.config import Config, OracleConfig
from sluice.errors import ConfigError

log = logging.getLogger(__name__)
COSIGN_KIND = "price.sign"
ORACLE = load_artifact("PriceOracle")


@dataclass(frozen=True)
class OracleSettings:
    """What the chain fixes: where signatures are valid, how many, and the oracle's limits."""

    chain_id: int
    threshold: int
    max_age: int
    max_deviation_bps: int

    @classmethod
    async def read(cls, node: NodeClient) -> "OracleSettings":
        return cls(
            chain_id=await node.chain_id(),
            threshold=await read_view(node, "Bridge", BRIDGE_ADDRESS, "threshold"),
            max_age=await read_view(node, "PriceOracle", ORACLE_ADDRESS, "max_age"),
            max_deviation_bps=await read_view(
                node, "PriceOracle", ORACLE_ADDRESS, "max_deviation_bps"
            ),
        )


def report_json(report: PriceReport) -> dict[str, int]:
    return {
        "asset": report.asset,
        "price": report.price,
        "timestamp": report.timestamp,
        "round": report.round,
    }


def report_from_json(body: dict[str, Any]) -> PriceReport:
    try:
        return PriceReport(
            int(body["asset"]), int(body["price"]), int(body["timestamp"]), int(body["round"])
        )
    except (KeyError, TypeError, ValueError) as error:
        raise BadPeerMessage(f"malformed price report: {error}") from None


class PricePusher:
    """The member's pusher: `execute` is one pass over the assets, `cosign` answers a peer."""

    name = "oracle"

    def __init__(
        self,
        keys: MemberKeys,
        poster: Sender | None,
        source: PriceSource,
        node: NodeClient,
        peers: list[Peer],
        client: PeerClient,
        config: OracleConfig,
        settings: OracleSettings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = keys
        self._poster = poster
        self._source = source
        self._node = node
        self._peers = peers
        self._client = client
        self._config = config
        self._settings = settings
        self._clock = clock
        self._rules = SigningRules(
            config.tolerance_bps, settings.max_deviation_bps, config.max_clock_skew
        )
        self._members = sorted({keys.address, *(p.address.lower() for p in peers)})
        self._due_since: dict[tuple[int, int], float] = {}

    # a peer asks

    async def cosign(self, body: dict[str, Any]) -> dict[str, Any]:
        """This member's signature of the proposed report, after its own checks."""
        report = report_from_json(body)
        observed = (await self._source.observe()).get(report.asset)
        current = await self._current(report.asset)
        self._rules.check(
            report.asset,
            report.price,
            report.timestamp,
            report.round,
            observed,
            current,
            int(self._clock()),
        )
        log.info(
            "oracle: co-signed %s round %d at %d (own observation %s)",
            ASSET_NAMES[report.asset],
            report.round,
            report.price,
            observed,
        )
        return {"signature": self._sign(report).hex()}

    # the loop

    async def execute(self) -> bool:
        observed = await self._source.observe()
        for asset, price in sorted(observed.items()):
            try:
                await self._consider(asset, price)
            except (PriceRefused, CallRefused) as refused:  # the other asset still goes on
                log.warning("oracle: %s", refused)
        return False

    async def unwind(self, height: int) -> None:
        """Nothing derives from Bitcoin blocks here."""

    def checkpoint(self) -> int | None:
        """No local progress: the oracle's round is the checkpoint."""
        return None

    async def _consider(self, asset: int, observed: int) -> None:
        current = await self._current(asset)
        now = int(self._clock())
        reason = update_due(
            observed, current, now, self._config.trigger_bps, self._config.heartbeat
        )
        round_ = current.round + 1
        if reason is None or self._poster is None:
            self._due_since.pop((asset, round_), None)
            return
        since = self._due_since.setdefault((asset, round_), self._clock())
        if self._clock() - since < self._rank(round_) * self._config.takeover_after:
            return  # an earlier member of this round's rotation should post first
        head = await self._node.call("eth_getBlockByNumber", "latest", False)
        timestamp = min(now, int(head["timestamp"], 16) + 1)
        if timestamp <= current.timestamp:
            return
        price = step_toward(observed, current.price, self._settings.max_deviation_bps)
        report = PriceReport(asset, price, timestamp, round_)
        await self._post(report, reason)

    def _rank(self, round_: int) -> int:
        """0 for the member whose turn `round_` is, 1 for the next, ..."""
        turn = round_ % len(self._members)
        return (self._members.index(self.keys.address) - turn) % len(self._members)

    async def _post(self, report: PriceReport, reason: str) -> None:
        assert self._poster is not None
        name = ASSET_NAMES[report.asset]
        signatures = await self._gather(report)
        data = ORACLE.calldata(
            "post", report.asset, report.price, report.timestamp, report.round, signatures
        )
        what = f"{name} price round {report.round}"
        try:
            tx_hash = await self._poster.send(what, ORACLE_ADDRESS, data)
        except CallRefused as refused:
            log.warning("oracle: %s not posted: %s", what, refused.reason)
            return
        log.info(
            "oracle: posted %s = %d (%s) with %d signatures in %s",
            what,
            report.price,
            reason,
            len(signatures),
            tx_hash,
        )

    async def _gather(self, report: PriceReport) -> list[bytes]:
        """The threshold's signatures (this member's and its peers'), ordered by signer."""
        signatures = {self.keys.address: self._sign(report)}
        pending = [
            asyncio.ensure_future(self._client.request(peer, COSIGN_KIND, report_json(report)))
            for peer in self._peers
        ]
        failures = []
        try:
            for done in asyncio.as_completed(pending):
                try:
                    reply = await done
                    signature = bytes.fromhex(str(reply["signature"]))
                    chain_id = self._settings.chain_id
                    signer = price_signer(report, signature, chain_id, ORACLE_ADDRESS)
                except (PeerRequestFailed, KeyError, ValueError) as error:
                    failures.append(str(error))
                    continue
                if signer not in self._members:
                    failures.append(f"a reply signed by {signer}, not a member")
                    continue
                signatures[signer] = signature
                if len(signatures) >= self._settings.threshold:
                    break
        finally:
            for task in pending:
                task.cancel()
        if len(signatures) < self._settings.threshold:
            raise PriceRefused(
                f"{ASSET_NAMES[report.asset]} round {report.round}: {len(signatures)} of "
                f"{self._settings.threshold} signatures ({'; '.join(failures) or 'no peers'})"
            )
        ordered = sorted(signatures.items(), key=lambda item: bytes.fromhex(item[0][2:]))
        return [signature for _, signature in ordered[: self._settings.threshold]]

    def _sign(self, report: PriceReport) -> bytes:
        return sign_price(
            report, self.keys.evm_private_key, self._settings.chain_id, ORACLE_ADDRESS
        )

    async def _current(self, asset: int) -> OnChainPrice:
        report = await read_view(self._node, "PriceOracle", ORACLE_ADDRESS, "reports", asset)
        return OnChainPrice(*report)


class CosignServer:
    """The member's co-signing endpoint: POST PEER_PATH with a sealed `price.sign` envelope
    from a peer; the reply is sealed by this member (409 with the reason when it refuses)."""

    def __init__(self, pusher: PricePusher, peers: list[Peer], host: str, port: int) -> None:
        self._pusher = pusher
        self._senders = {peer.address.lower() for peer in peers}
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> "CosignServer":
        app = web.Application(client_max_size=MAX_MESSAGE_BYTES)
        app.router.add_post(PEER_PATH, self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._port).start()
        log.info("oracle: co-signing on http://%s:%d%s", self._host, self._port, PEER_PATH)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        try:
            sender, kind, body = unseal(await request.read(), self._senders)
            if kind != COSIGN_KIND:
                raise BadPeerMessage(f"unknown message kind {kind!r}")
        except (BadPeerMessage, web.HTTPRequestEntityTooLarge) as error:
            return self._reply("error", {"reason": str(error)}, 400)
        try:
            return self._reply(kind, await self._pusher.cosign(body), 200)
        except (LendingError, NodeError, BadPeerMessage) as error:
            log.warning("oracle: refused to co-sign for %s: %s", sender, error)
            return self._reply("error", {"reason": str(error)}, 409)

    def _reply(self, kind: str, body: dict[str, Any], status: int) -> web.Response:
        return web.Response(
            body=seal(kind, body, self._pusher.keys),
            status=status,
            content_type="application/json",
        )


async def _wait_for_node(
    node: NodeClient, stopping: asyncio.Event, poll: float
) -> OracleSettings | None:
    """The chain's settings once the node answers (None if stopped meanwhile)."""
    while not stopping.is_set():
        try:
            return await OracleSettings.read(node)
        except NodeError as error:
            log.warning("oracle: waiting for the sidechain node (%s)", error)
            await wait_or_stop(stopping, poll)
    return None


async def run_pusher(config: Config) -> None:
    """Serve co-signing requests and push prices until SIGINT/SIGTERM."""
    oracle = config.oracle
    if oracle is None:
        raise ConfigError("sluice oracle push needs an [oracle] section")
    keys = load_member_keys(config.relayer)
    peers = [Peer(a, u) for a, u in zip(oracle.peer_addresses, oracle.peer_urls, strict=True)]
    poster_account: LocalAccount | None = None
    if oracle.poster_key_file is not None or oracle.poster_private_key:
        poster_account = load_account(
            oracle.poster_key_file, oracle.poster_private_key, "oracle.poster_"
        )
    async with (
        stop_on_signals() as stopping,
        NodeClient(config.relayer.node_rpc_url, config.relayer.node_timeout) as node,
        AsyncExitStack() as resources,
    ):
        client = PeerClient(keys)
        resources.push_async_callback(client.close)
        settings = await _wait_for_node(node, stopping, oracle.poll_interval)
        if settings is None:
            return
        if oracle.heartbeat >= settings.max_age:
            raise ConfigError(
                f"oracle.heartbeat ({oracle.heartbeat:g} s) must be below the oracle's "
                f"max_age ({settings.max_age} s)"
            )
        poster = None
        if poster_account is not None:
            poster = Sender(node, poster_account, settings.chain_id)
        pusher = PricePusher(
            keys,
            poster,
            price_source(oracle.source_file, oracle.source_command),
            node,
            peers,
            client,
            oracle,
            settings,
        )
        log.info(
            "oracle: member %d (%s), %d-of-%d, poster %s",
            keys.member_id,
            keys.address,
            settings.threshold,
            len(peers) + 1,
            "none (co-signs only)" if poster is None else poster.address,
        )
        async with CosignServer(pusher, peers, oracle.host, oracle.port):
            await Daemon([pusher], oracle.poll_interval, stopping).run()
