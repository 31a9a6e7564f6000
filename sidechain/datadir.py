"""`sluice node init`: create a node's data directory from a genesis file, or a dev chain."""

import json
from pathlib import Path

from sidechain.chaindata import ChainData
from sidechain.errors import StoreError
from sidechain.genesis import (
    DEV_ACCOUNTS_FILE,
    DevAccount,
    Genesis,
    build_genesis,
    dev_genesis,
    write_dev_accounts,
)
from sidechain.store import Store

STORE_DIR = "chain"
DEV_FEDERATION_FILE = "dev-federation.json"


def init_datadir(genesis: Genesis, datadir: Path) -> ChainData:
    """Write the genesis block and state into a new data directory.

    Raises `StoreError` if `datadir` already holds a chain (never overwrites one).
    """
    store = Store(datadir / STORE_DIR)
    try:
        if store.chain_get(b"head") is not None:
            raise StoreError(f"{datadir} already holds a chain; refusing to overwrite it")
        block = build_genesis(genesis)
        chain = ChainData(store, genesis, None)  # type: ignore[arg-type]
        chain.commit_genesis(block.header, dict(block.state_writes))
        return chain
    finally:
        store.close()


def init_from_file(genesis_file: Path, datadir: Path) -> Genesis:
    """`sluice node init --genesis FILE --datadir DIR`."""
    genesis = Genesis.load(genesis_file)
    init_datadir(genesis, datadir)
    return genesis


def init_dev(
    datadir: Path, accounts: int = 10, chain_id: int | None = None
) -> tuple[Genesis, list[DevAccount]]:
    """`sluice node init --dev --datadir DIR`: funded accounts in DIR/dev-accounts.json and the
    2-of-3 dev federation's keys in DIR/dev-federation.json."""
    genesis, funded, federation = (
        dev_genesis(accounts) if chain_id is None else dev_genesis(accounts, chain_id)
    )
    init_datadir(genesis, datadir)
    write_dev_accounts(datadir / DEV_ACCOUNTS_FILE, funded)
    write_dev_accounts(datadir / DEV_FEDERATION_FILE, federation)
    return genesis, funded


def read_dev_accounts(path: Path) -> list[DevAccount]:
    return [DevAccount(**entry) for entry in json.loads(path.read_text())]
