"""Importing a block someone else made: re-execute it and check every field its header claims."""

from sidechain.chaindata import ChainData
from sidechain.errors import HeaderMismatch
from sidechain.executor.abc import BlockExecutorAPI, PreState
from sidechain.executor.header import verify_header, verify_header_against_parent
from sidechain.store import Store
from sidechain.views import StoredBlock


def import_block(
    store: Store, chain: ChainData, executor: BlockExecutorAPI, block: StoredBlock
) -> StoredBlock:
    """Append `block` to the head after checking it; nothing is written unless all checks pass.

    Raises `HeaderMismatch` (a header field disagrees with its parent or with execution) or
    `InvalidTransaction` (a transaction is invalid in the block's order).
    """
    parent = chain.head().header
    if block.header.parent_hash != parent.hash:
        raise HeaderMismatch("parent_hash", block.header.parent_hash, parent.hash)
    verify_header_against_parent(block.header, parent)
    with store.reading() as snapshot:
        pre = PreState(snapshot.state_db(), parent.state_root, chain.ancestor_hashes(parent))
        result = executor.execute_block(pre, block.header, block.transactions)
    verify_header(block.header, result)
    return chain.commit_block(block.header, result)
