"""Asking peers for signatures: signed envelopes out, replies checked to come from that peer."""

import asyncio
from collections.abc import Sequence
from typing import Any

import aiohttp

from relayer.keys import MemberKeys
from relayer.release_check import SpendProposal
from relayer.release_errors import BadPeerMessage, PeerRequestFailed, QuorumNotReached
from relayer.release_psbt import Psbt
from relayer.signing import (
    MAX_MESSAGE_BYTES,
    Peer,
    SigningMember,
    proposal_to_json,
    seal,
    unseal,
)
from relayer.signing_server import PEER_PATH

REQUEST_TIMEOUT_S = 30.0


class PeerClient:
    """One HTTP session to all peers; `request` raises `PeerRequestFailed` on any failure."""

    def __init__(self, keys: MemberKeys, timeout: float = REQUEST_TIMEOUT_S) -> None:
        self._keys = keys
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(self, peer: Peer, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.post(
                peer.url.rstrip("/") + PEER_PATH,
                data=seal(kind, body, self._keys),
                headers={"Content-Type": "application/json"},
            ) as response:
                raw = await response.content.read(MAX_MESSAGE_BYTES + 1)
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            raise PeerRequestFailed(peer.url, f"{type(error).__name__}: {error}") from error
        try:
            _, reply_kind, reply = unseal(raw, {peer.address.lower()})
        except BadPeerMessage as error:
            raise PeerRequestFailed(peer.url, f"HTTP {status}, bad reply: {error}") from error
        if status != 200 or reply_kind == "error":
            raise PeerRequestFailed(peer.url, str(reply.get("reason", f"HTTP {status}")))
        return reply


class Federation:
    """The coordinator's view of a round: ask every peer at once, stop at the threshold."""

    def __init__(
        self,
        member: SigningMember,
        peers: Sequence[Peer],
        client: PeerClient,
        threshold: int,
        rotation_blocks: int,
    ) -> None:
        self.member = member
        self.peers = tuple(peers)
        self._client = client
        self.threshold = threshold
        self.rotation_blocks = rotation_blocks
        # Held while choosing coins and signing: two stages of one member never pick the
        # same vault coins for two spends.
        self.spend_lock = asyncio.Lock()

    @property
    def addresses(self) -> list[str]:
        """Every member's EVM address (this one included), sorted: the rotation order."""
        return sorted({self.member.keys.address, *(p.address.lower() for p in self.peers)})

    def is_coordinator(self, bitcoin_height: int) -> bool:
        """Round-robin by Bitcoin height: a member that is down loses its turn after
        `rotation_blocks` blocks and the next one takes over."""
        members = self.addresses
        turn = members[(bitcoin_height // self.rotation_blocks) % len(members)]
        return turn == self.member.keys.address

    async def sign_spend(self, proposal: SpendProposal) -> Psbt:
        """`proposal`'s PSBT with `threshold` signatures per input (this member's first)."""
        own = await self.member.sign_spend(proposal)
        collected = {self.member.keys.bitcoin_public: own}
        body = proposal_to_json(proposal)
        for reply in await self._gather("spend.sign", body, self.threshold - 1):
            collected[bytes.fromhex(str(reply["pubkey"]))] = {
                int(i): bytes.fromhex(s) for i, s in reply["signatures"].items()
            }
        by_input: dict[int, dict[bytes, bytes]] = {}
        for pubkey, signatures in collected.items():
            for index, signature in signatures.items():
                by_input.setdefault(index, {})[pubkey] = signature
        return proposal.psbt.with_signatures(by_input)

    async def attest(self, kind: str, body: dict[str, Any], own: bytes) -> dict[str, bytes]:
        """{signer address: EIP-712 signature}, `threshold` of them, this member's first."""
        signatures = {self.member.keys.address: own}
        replies = await self._gather(kind, body, self.threshold - 1, with_sender=True)
        for reply in replies:
            signatures[str(reply["_sender"])] = bytes.fromhex(str(reply["signature"]))
        return signatures

    async def tell(self, peer: Peer, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        """One message to one peer; its reply (`PeerRequestFailed` if it fails or refuses)."""
        return await self._client.request(peer, kind, body)

    async def announce(self, body: dict[str, Any]) -> None:
        """Tell every peer a spend went out; a peer that is down learns it from bitcoind."""
        await asyncio.gather(
            *(self._client.request(p, "spend.broadcast", body) for p in self.peers),
            return_exceptions=True,
        )

    async def _gather(
        self, kind: str, body: dict[str, Any], needed: int, *, with_sender: bool = False
    ) -> list[dict[str, Any]]:
        if needed <= 0:
            return []

        async def ask(peer: Peer) -> dict[str, Any]:
            reply = await self._client.request(peer, kind, body)
            return {**reply, "_sender": peer.address.lower()} if with_sender else reply

        pending = {asyncio.ensure_future(ask(peer)) for peer in self.peers}
        replies: list[dict[str, Any]] = []
        failures: list[str] = []
        try:
            while pending and len(replies) < needed:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    error = task.exception()
                    if error is None:
                        replies.append(task.result())
                    else:
                        failures.append(str(error))
        finally:
            for task in pending:
                task.cancel()
        if len(replies) < needed:
            raise QuorumNotReached(kind, len(replies) + 1, self.threshold, failures)
        return replies
