"""Headers and execution results: the next header's environment, sealing, and import checks."""

from eth.abc import BlockHeaderAPI
from eth.constants import ZERO_HASH32

from sidechain.errors import HeaderMismatch
from sidechain.executor.abc import BlockResult
from sidechain.predeploys import FEE_VAULT_ADDRESS
from sidechain.vm import SluiceVM


def next_header(parent: BlockHeaderAPI, timestamp: int) -> BlockHeaderAPI:
    """The environment of the block after `parent`: EIP-1559 base fee, blob gas, same gas limit.

    The timestamp is raised to parent + 1 if needed (timestamps strictly increase).
    """
    return SluiceVM.create_header_from_parent(
        parent,
        timestamp=max(timestamp, parent.timestamp + 1),
        coinbase=FEE_VAULT_ADDRESS,
        gas_limit=parent.gas_limit,
        parent_beacon_block_root=ZERO_HASH32,
    )


def seal_header(template: BlockHeaderAPI, result: BlockResult) -> BlockHeaderAPI:
    """Our producer's header: the template's environment plus what execution produced."""
    return template.copy(**_committed_fields(result))


def verify_execution(header: BlockHeaderAPI, result: BlockResult) -> None:
    """Every field the header's fork commits to must equal what execution produced (a fork's
    header has only its own fields: no base fee before London, no blob gas before Cancun...);
    raises `HeaderMismatch`."""
    for field, computed in _committed_fields(result).items():
        if not hasattr(header, field):
            continue
        claimed = getattr(header, field)
        if claimed != computed:
            raise HeaderMismatch(field, claimed, computed)


def verify_header(header: BlockHeaderAPI, result: BlockResult) -> None:
    """An imported header of our chain must claim exactly what execution produced and name the
    fee vault as its coinbase; raises `HeaderMismatch`."""
    verify_execution(header, result)
    if header.coinbase != FEE_VAULT_ADDRESS:
        raise HeaderMismatch("coinbase", header.coinbase, FEE_VAULT_ADDRESS)


def verify_header_against_parent(header: BlockHeaderAPI, parent: BlockHeaderAPI) -> None:
    """The environment fields an imported header must derive from its parent."""
    expected = next_header(parent, header.timestamp)
    for field in (
        "parent_hash",
        "block_number",
        "base_fee_per_gas",
        "excess_blob_gas",
        "gas_limit",
        "difficulty",
        "nonce",
        "uncles_hash",
        "parent_beacon_block_root",
    ):
        if getattr(header, field) != getattr(expected, field):
            raise HeaderMismatch(field, getattr(header, field), getattr(expected, field))
    if header.timestamp <= parent.timestamp:
        raise HeaderMismatch("timestamp", header.timestamp, f"> {parent.timestamp}")


def _committed_fields(result: BlockResult) -> dict[str, object]:
    return {
        "state_root": result.state_root,
        "transaction_root": result.transactions_root,
        "receipt_root": result.receipts_root,
        "bloom": result.bloom,
        "gas_used": result.gas_used,
        "blob_gas_used": result.blob_gas_used,
        "requests_hash": result.requests_hash,
        "withdrawals_root": result.withdrawals_root,
    }
