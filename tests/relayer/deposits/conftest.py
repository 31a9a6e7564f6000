"""A regtest bitcoind with test USDT, a sidechain node and a 2-of-3 federation of relayer
processes (confirmation depth 2), shared by the tests of one module."""

import secrets
from collections.abc import Iterator
from decimal import Decimal

import pytest
from eth_utils import to_checksum_address

from regtest.binaries import Binaries
from regtest.node import BitcoindNode
from regtest.omni import issue_usdt
from relayer.testing import FederationSettings, LocalFederation
from sidechain.attestation import Attestation

USDT_ISSUED = 10**16


@pytest.fixture(scope="module")
def chain(
    bitcoind_binaries: Binaries, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BitcoindNode]:
    """A bitcoind of this module's own: its tests restart it and reorganise its chain."""
    node = BitcoindNode(tmp_path_factory.mktemp("bitcoind"), bitcoind_binaries)
    node.start()
    try:
        node.mine_to_maturity()
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="module")
def usdt_property(chain: BitcoindNode) -> tuple[int, int]:
    """(property id, the height the relayers start scanning at: before its creation)."""
    start = int(chain.getblockcount())
    return issue_usdt(chain, USDT_ISSUED), start


@pytest.fixture(scope="module")
def federation(
    chain: BitcoindNode, usdt_property: tuple[int, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalFederation]:
    property_id, start = usdt_property
    settings = FederationSettings(usdt_property_id=property_id, scan_start_height=start)
    stack = LocalFederation(tmp_path_factory.mktemp("federation"), chain, settings)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


def new_recipient() -> str:
    return to_checksum_address("0x" + secrets.token_bytes(20).hex())


def reorg_out(chain: BitcoindNode, txid: str, new_blocks: int) -> None:
    """Replace the chain from `txid`'s block with `new_blocks` blocks holding a double spend
    of its inputs (so it can never come back), mined with generateblock (no mempool)."""
    block = chain.gettransaction(txid)["blockhash"]
    chain.invalidate(block)
    decoded = chain.rpc("decoderawtransaction", chain.gettransaction(txid)["hex"], wallet=False)
    inputs = [{"txid": vin["txid"], "vout": vin["vout"]} for vin in decoded["vin"]]
    paid = sum(out["value"] for out in decoded["vout"])
    fee = -chain.gettransaction(txid)["fee"]
    conflict = chain.createrawtransaction(
        inputs, [{chain.new_address(): paid - fee - Decimal("0.0001")}]
    )
    signed = chain.signrawtransactionwithwallet(conflict)["hex"]
    address = chain.new_address()
    chain.generateblock(address, [signed])
    for _ in range(new_blocks - 1):
        chain.generateblock(address, [])


def attestation_json(attestation: Attestation) -> dict[str, str]:
    """The first parameter of sluice_submitAttestation."""
    return {
        "txid": "0x" + attestation.txid.hex(),
        "vout": hex(attestation.vout),
        "asset": ["BTC", "USDT"][attestation.asset],
        "amount": hex(attestation.amount),
        "recipient": to_checksum_address(attestation.recipient),
    }
