"""The relayer's async JSON-RPC client for the sidechain node, and the Bridge's decoded events.

`NodeClient(url)` speaks Ethereum JSON-RPC plus `sluice_submitAttestation` over aiohttp; every
failure is a `NodeError` (see relayer.errors): `NodeUnavailable` when the node did not answer,
`NodeRpcError` (and its leaves) when it answered with an error object. `call(method, *params)`
is the raw seam other modules (relayer.release_sidechain) build on.

Bridge events are decoded with the Bridge ABI from the committed artifact into frozen
dataclasses (`Deposited`, `WithdrawalRequested`, `WithdrawalReleased`, `WithdrawalRefunded`,
`CommitmentRecorded`),
each with its `LogPosition` (block, tx hash, log index). Txids are hex in bitcoind's display
order, addresses lowercase 0x-hex, amounts in Bitcoin base units (sats / USDT units).
"""

import asyncio
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import aiohttp
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address

from relayer.errors import (
    AttestationRefused,
    NodeCallReverted,
    NodeRpcError,
    NodeUnavailable,
    ReceiptTimeout,
)
from sidechain.attestation import Attestation
from sidechain.contracts import load_artifact
from sidechain.predeploys import BRIDGE_ADDRESS, USDT_ADDRESS

ASSET_NAMES = {0: "BTC", 1: "USDT"}
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
_REVERT_CODE = 3


@dataclass(frozen=True)
class LogPosition:
    """Where a log sits on the sidechain."""

    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int


@dataclass(frozen=True)
class Deposited:
    recipient: str
    txid: str  # bitcoind display hex
    vout: int
    asset: int
    amount: int  # sats / USDT units
    at: LogPosition

    @property
    def deposit_id(self) -> str:
        return f"{self.txid}:{self.vout}"


@dataclass(frozen=True)
class WithdrawalRequested:
    withdrawal_id: int
    sender: str
    asset: int
    amount: int
    bitcoin_address: str
    at: LogPosition


@dataclass(frozen=True)
class WithdrawalReleased:
    withdrawal_id: int
    btc_txid: str
    at: LogPosition


@dataclass(frozen=True)
class WithdrawalRefunded:
    withdrawal_id: int
    sender: str
    asset: int
    amount: int
    at: LogPosition


@dataclass(frozen=True)
class CommitmentRecorded:
    height: int
    state_root: str  # 64 hex digits
    at: LogPosition


BridgeEvent = (
    Deposited | WithdrawalRequested | WithdrawalReleased | WithdrawalRefunded | CommitmentRecorded
)
_EVENT_CLASSES: dict[str, type[BridgeEvent]] = {
    cls.__name__: cls
    for cls in (
        Deposited,
        WithdrawalRequested,
        WithdrawalReleased,
        WithdrawalRefunded,
        CommitmentRecorded,
    )
}


@dataclass(frozen=True)
class AttestationStatus:
    """The node's answer to one attestation: who signed so far, and the mint once included."""

    deposit_id: str
    signers: tuple[str, ...]
    threshold: int
    quorum: bool
    transaction_hash: str | None


@dataclass(frozen=True)
class Receipt:
    tx_hash: str
    block_number: int
    block_hash: str
    status: int
    logs: tuple[Mapping[str, Any], ...]

    @property
    def succeeded(self) -> bool:
        return self.status == 1


class _EventDecoder:
    """Decodes one ABI event from a raw log (indexed args from topics, the rest from data)."""

    def __init__(self, entry: Mapping[str, Any]) -> None:
        self.name: str = entry["name"]
        self.inputs: list[Mapping[str, Any]] = list(entry["inputs"])
        types = ",".join(arg["type"] for arg in self.inputs)
        self.topic = "0x" + keccak(text=f"{self.name}({types})").hex()

    def decode(self, log: Mapping[str, Any]) -> BridgeEvent:
        topics = [bytes.fromhex(topic[2:]) for topic in log["topics"][1:]]
        plain = [arg for arg in self.inputs if not arg["indexed"]]
        values = iter(abi_decode([arg["type"] for arg in plain], _hex_bytes(log["data"])))
        indexed = iter(topics)
        args: dict[str, Any] = {}
        for arg in self.inputs:
            if arg["indexed"]:
                args[arg["name"]] = abi_decode([arg["type"]], next(indexed))[0]
            else:
                args[arg["name"]] = next(values)
        at = LogPosition(
            block_number=int(log["blockNumber"], 16),
            block_hash=log["blockHash"],
            tx_hash=log["transactionHash"],
            log_index=int(log["logIndex"], 16),
        )
        cls = _EVENT_CLASSES[self.name]
        return cls(**{name: _value(value) for name, value in args.items()}, at=at)


def _value(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return value.lower()
    return value


def _hex_bytes(value: str) -> bytes:
    return bytes.fromhex(value[2:] if value.startswith("0x") else value)


def _bridge_decoders() -> dict[str, _EventDecoder]:
    abi = load_artifact("Bridge").abi
    decoders = [_EventDecoder(entry) for entry in abi if entry["type"] == "event"]
    return {decoder.topic: decoder for decoder in decoders if decoder.name in _EVENT_CLASSES}


BRIDGE_EVENT_DECODERS = _bridge_decoders()
BRIDGE_EVENT_TOPICS: dict[str, str] = {d.name: t for t, d in BRIDGE_EVENT_DECODERS.items()}


def decode_bridge_log(log: Mapping[str, Any]) -> BridgeEvent | None:
    """The Bridge event a raw log carries, or None for a log of another event."""
    if not log.get("topics"):
        return None
    decoder = BRIDGE_EVENT_DECODERS.get(log["topics"][0])
    return None if decoder is None else decoder.decode(log)


async def _read_capped(response: aiohttp.ClientResponse, method: str) -> bytes:
    """The whole body, refusing one over MAX_RESPONSE_BYTES (every network input has a limit)."""
    body = bytearray()
    async for chunk in response.content.iter_chunked(1 << 16):
        body += chunk
        if len(body) > MAX_RESPONSE_BYTES:
            raise NodeUnavailable(
                str(response.url), f"answer to {method} is over {MAX_RESPONSE_BYTES} bytes"
            )
    return bytes(body)


def _selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


class NodeClient:
    """JSON-RPC to one sidechain node. Use as `async with NodeClient(url) as node:`."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._ids = itertools.count(1)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def call(self, method: str, *params: Any) -> Any:
        """One JSON-RPC call; raises NodeUnavailable (no answer) or NodeRpcError (error object)."""
        request = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        try:
            async with self._http().post(self.url, json=request) as response:
                if response.status != 200:
                    raise NodeUnavailable(self.url, f"HTTP {response.status} for {method}")
                body = json.loads(await _read_capped(response, method))
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise NodeUnavailable(self.url, f"{type(error).__name__} for {method}") from error
        except json.JSONDecodeError as error:
            raise NodeUnavailable(self.url, f"answer to {method} is not JSON") from error
        if not isinstance(body, dict):
            raise NodeUnavailable(self.url, f"answer to {method} is not a JSON object")
        if "error" in body:
            error = body["error"] or {}
            code, message = int(error.get("code", 0)), str(error.get("message", ""))
            cls = NodeCallReverted if code == _REVERT_CODE else NodeRpcError
            if method == "sluice_submitAttestation":
                cls = AttestationRefused
            raise cls(method, code, message, error.get("data"))
        return body.get("result")

    # chain

    async def block_number(self) -> int:
        return int(await self.call("eth_blockNumber"), 16)

    async def chain_id(self) -> int:
        return int(await self.call("eth_chainId"), 16)

    async def balance(self, address: str, block: str = "latest") -> int:
        """Wei held by `address` (BTC on the sidechain: 1 sat = 10**10 wei)."""
        return int(await self.call("eth_getBalance", to_checksum_address(address), block), 16)

    async def nonce(self, address: str, block: str = "pending") -> int:
        return int(
            await self.call("eth_getTransactionCount", to_checksum_address(address), block), 16
        )

    async def eth_call(self, to: str | bytes, data: bytes, block: str = "latest") -> bytes:
        """Run a read-only call; raises NodeCallReverted when it reverts."""
        request = {"to": to_checksum_address(to), "data": "0x" + data.hex()}
        return _hex_bytes(await self.call("eth_call", request, block))

    async def get_logs(
        self,
        from_block: int,
        to_block: int,
        address: str | bytes | None = None,
        topics: Sequence[str | Sequence[str] | None] | None = None,
    ) -> list[dict[str, Any]]:
        """Raw logs in blocks from_block..to_block (inclusive)."""
        criteria: dict[str, Any] = {"fromBlock": hex(from_block), "toBlock": hex(to_block)}
        if address is not None:
            criteria["address"] = to_checksum_address(address)
        if topics is not None:
            criteria["topics"] = list(topics)
        return list(await self.call("eth_getLogs", criteria))

    async def bridge_events(
        self, from_block: int, to_block: int, names: Sequence[str] | None = None
    ) -> list[BridgeEvent]:
        """The Bridge's events in from_block..to_block, in chain order; `names` filters them."""
        topics = None if names is None else [[BRIDGE_EVENT_TOPICS[name] for name in names]]
        logs = await self.get_logs(from_block, to_block, BRIDGE_ADDRESS, topics)
        events = (decode_bridge_log(log) for log in logs)
        return [event for event in events if event is not None]

    # transactions

    async def send_raw_transaction(self, raw: bytes) -> str:
        return str(await self.call("eth_sendRawTransaction", "0x" + raw.hex()))

    async def receipt(self, tx_hash: str) -> Receipt | None:
        raw = await self.call("eth_getTransactionReceipt", tx_hash)
        if raw is None:
            return None
        return Receipt(
            tx_hash=raw["transactionHash"],
            block_number=int(raw["blockNumber"], 16),
            block_hash=raw["blockHash"],
            status=int(raw["status"], 16),
            logs=tuple(raw.get("logs", ())),
        )

    async def wait_for_receipt(
        self, tx_hash: str, timeout: float = 60.0, poll: float = 0.2
    ) -> Receipt:
        """The receipt once mined; raises ReceiptTimeout after `timeout` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            receipt = await self.receipt(tx_hash)
            if receipt is not None:
                return receipt
            if loop.time() >= deadline:
                raise ReceiptTimeout(tx_hash, timeout)
            await asyncio.sleep(poll)

    async def send_and_wait(self, raw: bytes, timeout: float = 60.0) -> Receipt:
        return await self.wait_for_receipt(await self.send_raw_transaction(raw), timeout)

    # the bridge

    async def submit_attestation(
        self, attestation: Attestation, signature: bytes
    ) -> AttestationStatus:
        """Hand the node one member's signature; raises AttestationRefused (see already_minted)."""
        body = {
            "txid": "0x" + attestation.txid.hex(),
            "vout": hex(attestation.vout),
            "asset": ASSET_NAMES[attestation.asset],
            "amount": hex(attestation.amount),
            "recipient": to_checksum_address(attestation.recipient),
        }
        answer = await self.call("sluice_submitAttestation", body, "0x" + signature.hex())
        return AttestationStatus(
            deposit_id=answer["depositId"],
            signers=tuple(signer.lower() for signer in answer["signers"]),
            threshold=int(answer["threshold"]),
            quorum=bool(answer["quorum"]),
            transaction_hash=answer["transactionHash"],
        )

    async def is_minted(self, txid: str, vout: int) -> bool:
        """The Bridge's own record: was deposit txid:vout (display hex) minted?"""
        data = _selector("minted(bytes32,uint32)") + abi_encode(
            ["bytes32", "uint32"], [bytes.fromhex(txid), vout]
        )
        return bool(abi_decode(["bool"], await self.eth_call(BRIDGE_ADDRESS, data))[0])

    async def usdt_balance(self, address: str, block: str = "latest") -> int:
        data = _selector("balanceOf(address)") + abi_encode(["address"], [address])
        return int(abi_decode(["uint256"], await self.eth_call(USDT_ADDRESS, data, block))[0])

    async def usdt_total_supply(self, block: str = "latest") -> int:
        data = _selector("totalSupply()")
        return int(abi_decode(["uint256"], await self.eth_call(USDT_ADDRESS, data, block))[0])
