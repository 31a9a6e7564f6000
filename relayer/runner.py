"""`sluice relayer run`: builds one member's resources and loops from its config, runs the daemon.

Registering a loop: write `async def my_loops(ctx: RelayerContext) -> Sequence[Loop]` that
builds the loop(s) from the context (config, keys, ledger sessions, bitcoind and node clients;
a server or other resource goes into `ctx.resources`, an AsyncExitStack closed at shutdown, in
reverse) and add it to `relayer.loops.LOOP_FACTORIES`. The daemon then drives it beside the
others, and a Bitcoin reorg seen by the deposit scanner reaches its `unwind`.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from bridge.bitcoin.payments import DepositRules, Federation
from bridge.bitcoin.rpc import BitcoinRPC
from bridge.bitcoin.scanner import ScannerSettings
from bridge.ledger import create_ledger_engine, ledger_sessions, upgrade_ledger
from relayer.daemon import Daemon, Faults, Loop, stop_on_signals, wait_or_stop
from relayer.deposits import AttestationSigner, DepositLoop, DepositSettings, PausingScanner
from relayer.errors import NodeError
from relayer.keys import MemberKeys, load_member_keys
from relayer.node_client import NodeClient
from relayer.vault import VaultSettings
from sluice.config import Config

log = logging.getLogger(__name__)


@dataclass
class RelayerContext:
    """What a loop factory may use; everything here belongs to this member alone."""

    config: Config
    keys: MemberKeys
    sessions: sessionmaker[Session]
    bitcoin: BitcoinRPC
    node: NodeClient
    chain_id: int
    faults: Faults
    resources: AsyncExitStack
    daemon: Daemon | None = field(default=None)

    async def announce_reorg(self, height: int, source: str) -> None:
        """A loop that follows Bitcoin saw a reorg to `height`: unwind the other loops."""
        if self.daemon is not None:
            await self.daemon.unwind_all(height, source)


LoopFactory = Callable[[RelayerContext], Awaitable[Sequence[Loop]]]


async def deposit_loops(ctx: RelayerContext) -> Sequence[Loop]:
    config = ctx.config
    vault = VaultSettings.from_config(config)
    rules = DepositRules(
        usdt_property_id=config.bridge.usdt_property_id,
        min_btc_sats=config.bridge.min_deposit_sats,
        min_usdt=config.bridge.min_deposit_usdt,
        # A payment to an address naming another federation is rejected (bad script).
        federation=Federation(frozenset(vault.federation_keys), vault.threshold),
    )
    scanner = PausingScanner(
        ctx.bitcoin,
        ctx.sessions,
        ScannerSettings(
            rules=rules,
            confirmations=config.bitcoin.confirmations,
            start_height=config.relayer.scan_start_height,
            omni_start_height=config.relayer.scan_start_height,
        ),
    )
    loop = DepositLoop(
        scanner,
        ctx.sessions,
        ctx.node,
        AttestationSigner(ctx.keys, ctx.chain_id),
        DepositSettings(resubmit_after=config.relayer.resubmit_after),
        ctx.faults,
        on_reorg=lambda height: ctx.announce_reorg(height, DepositLoop.name),
    )
    return [loop]


async def wait_for_chain_id(
    node: NodeClient, stopping: asyncio.Event, poll: float, who: str
) -> int | None:
    """The node's chain id, waiting for the node to come up (None if stopped meanwhile)."""
    while not stopping.is_set():
        try:
            return await node.chain_id()
        except NodeError as error:
            log.warning("%s: waiting for the sidechain node (%s)", who, error)
            await wait_or_stop(stopping, poll)
    return None


async def run_relayer(config: Config, factories: Sequence[LoopFactory]) -> None:
    """Run member `config.relayer.member_id` until SIGINT/SIGTERM."""
    keys = load_member_keys(config.relayer)
    faults = Faults(config.relayer.crash_at)
    engine = create_ledger_engine(config.ledger.url)
    upgrade_ledger(engine)
    log.info("relayer: member %d (%s) starting", keys.member_id, keys.address)
    try:
        async with (
            stop_on_signals() as stopping,
            AsyncExitStack() as resources,
            BitcoinRPC.from_config(config.bitcoin) as bitcoin,
            NodeClient(config.relayer.node_rpc_url, config.relayer.node_timeout) as node,
        ):
            poll = config.relayer.poll_interval
            chain_id = await wait_for_chain_id(node, stopping, poll, "relayer")
            if chain_id is None:
                return
            ctx = RelayerContext(
                config=config,
                keys=keys,
                sessions=ledger_sessions(engine),
                bitcoin=bitcoin,
                node=node,
                chain_id=chain_id,
                faults=faults,
                resources=resources,
            )
            loops = [loop for factory in factories for loop in await factory(ctx)]
            ctx.daemon = Daemon(loops, poll, stopping)
            await ctx.daemon.run()
    finally:
        engine.dispose()
