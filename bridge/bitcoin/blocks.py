"""Blocks as the bridge reads them: bitcoind's `getblock` (verbosity 3) turned into small values."""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

SATS_PER_BTC = 100_000_000
BLOCK_VERBOSITY = 3  # transactions decoded, each input with the output it spends (prevout)


class RPCClient(Protocol):
    """What block reading needs of `bridge.bitcoin.rpc.BitcoinRPC`."""

    async def call(self, method: str, *params: Any) -> Any: ...

    async def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]: ...


@dataclass(frozen=True)
class TxOutput:
    index: int
    value: int  # sats
    script_pubkey: bytes
    address: str | None  # None for OP_RETURN and scripts without an address


@dataclass(frozen=True)
class Transaction:
    txid: str
    first_input_address: str | None  # None for a coinbase
    outputs: tuple[TxOutput, ...]


@dataclass(frozen=True)
class Block:
    height: int
    hash: str
    prev_hash: str
    transactions: tuple[Transaction, ...]


def to_sats(btc: Any) -> int:
    """Exact sats from bitcoind's BTC figure (float or Decimal; its shortest repr is exact)."""
    return int(Decimal(str(btc)) * SATS_PER_BTC)


def block_from_rpc(raw: dict[str, Any]) -> Block:
    return Block(
        height=int(raw["height"]),
        hash=str(raw["hash"]),
        prev_hash=str(raw.get("previousblockhash", "00" * 32)),
        transactions=tuple(_transaction(tx) for tx in raw["tx"]),
    )


def _transaction(raw: dict[str, Any]) -> Transaction:
    first = raw["vin"][0]
    prevout = first.get("prevout")
    address = prevout["scriptPubKey"].get("address") if prevout else None
    return Transaction(
        txid=str(raw["txid"]),
        first_input_address=address,
        outputs=tuple(
            TxOutput(
                index=int(out["n"]),
                value=to_sats(out["value"]),
                script_pubkey=bytes.fromhex(out["scriptPubKey"]["hex"]),
                address=out["scriptPubKey"].get("address"),
            )
            for out in raw["vout"]
        ),
    )


async def fetch_blocks(rpc: RPCClient, heights: range) -> list[Block]:
    """The blocks at `heights` on bitcoind's best chain, two batched round trips."""
    hashes = await rpc.batch([("getblockhash", [height]) for height in heights])
    return await fetch_blocks_by_hash(rpc, hashes)


async def fetch_blocks_by_hash(rpc: RPCClient, hashes: Sequence[str]) -> list[Block]:
    """The blocks with these hashes (on the best chain or not), one batched round trip."""
    raws = await rpc.batch([("getblock", [h, BLOCK_VERBOSITY]) for h in hashes])
    return [block_from_rpc(raw) for raw in raws]
