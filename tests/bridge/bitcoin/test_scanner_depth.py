"""The confirmation depth on a real bitcoind: a deposit is `seen` below the depth and becomes
`confirmed` in the very block that gives it `depth` confirmations, whatever the depth (1 too:
there the block that pays it confirms it), and stays so; back from a reorg, it is confirmed
again in its new block."""

import logging
from dataclasses import replace

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bridge.bitcoin.scanner import DepositScanner
from bridge.ledger.states import DepositStatus
from regtest.node import BitcoindNode
from tests.bridge.bitcoin.test_deposit_scanner import (
    client,
    expected,
    make_addresses,
    mine_only,
    pay_btc,
    rows,
    settings_from_next_block,
)

log = logging.getLogger(__name__)


@pytest.mark.parametrize("depth", [1, 2, 6])
async def test_a_deposit_is_confirmed_in_the_block_that_reaches_the_depth(
    bitcoind: BitcoindNode, ledger_sessions_factory: sessionmaker[Session], depth: int
) -> None:
    sessions = ledger_sessions_factory
    settings = replace(settings_from_next_block(bitcoind), confirmations=depth)
    (address,) = make_addresses(sessions, 1)
    (paid,) = pay_btc(bitcoind, {address: 60_000})
    (block,) = bitcoind.mine(1)
    async with client(bitcoind) as rpc:
        scanner = DepositScanner(rpc, sessions, settings)
        for confirmations in range(1, depth + 1):
            await scanner.execute()
            status = DepositStatus.CONFIRMED if confirmations == depth else DepositStatus.SEEN
            log.info("%d of %d confirmations: %s", confirmations, depth, status)
            assert rows(sessions) == expected([paid], status, confirmations, block)
            bitcoind.mine(1)
        await scanner.execute()
    assert rows(sessions) == expected([paid], DepositStatus.CONFIRMED, depth, block)


async def test_at_depth_one_a_deposit_back_from_a_reorg_is_confirmed_in_its_new_block(
    bitcoind: BitcoindNode, ledger_sessions_factory: sessionmaker[Session]
) -> None:
    sessions = ledger_sessions_factory
    settings = replace(settings_from_next_block(bitcoind), confirmations=1)
    (address,) = make_addresses(sessions, 1)
    (paid,) = pay_btc(bitcoind, {address: 61_000})
    (block,) = bitcoind.mine(1)
    async with client(bitcoind) as rpc:
        scanner = DepositScanner(rpc, sessions, settings)
        await scanner.execute()
        assert rows(sessions) == expected([paid], DepositStatus.CONFIRMED, 1, block)
        bitcoind.invalidate(block)  # the transaction goes back to the mempool
        await scanner.execute()
        assert rows(sessions) == expected([paid], DepositStatus.REORGED, 1, block)
        again = mine_only(bitcoind, {paid.txid})
        await scanner.execute()
    assert rows(sessions) == expected([paid], DepositStatus.CONFIRMED, 1, again)
