"""Builds a watcher from its config and runs its two stages until SIGINT/SIGTERM: the replay
of the sidechain and the watcher's own judging and acting (relayer.daemon drives both)."""

import asyncio
import contextlib
import logging

from bridge.bitcoin.rpc import BitcoinRPC
from relayer.daemon import Daemon, Faults, stop_on_signals
from relayer.errors import WatcherError
from relayer.keys import load_account
from relayer.node_client import NodeClient
from relayer.runner import wait_for_chain_id
from relayer.vault import VaultSettings
from relayer.watcher.judge import Judge
from relayer.watcher.replay import ChainReplay
from relayer.watcher.sender import CourtSender
from relayer.watcher.state import STATE_FILE, WatcherState
from relayer.watcher.watcher import Watcher, claim_work, min_bond
from restaking import court
from sidechain.genesis import Genesis
from sluice.config import Config, WatcherConfig

log = logging.getLogger(__name__)


def watcher_section(config: Config) -> WatcherConfig:
    if config.watcher is None:
        raise WatcherError("the config has no [watcher] section")
    return config.watcher


async def wait_for_txindex(rpc: BitcoinRPC, stopping: asyncio.Event, poll: float) -> bool:
    """Wait until bitcoind's transaction index is synced (False: stopped meanwhile). The judge
    looks transactions up by txid: without the index every deposit would look absent, so a
    bitcoind without -txindex=1 is refused."""
    while True:
        info = (await rpc.call("getindexinfo", "txindex")).get("txindex")
        if info is None:
            raise WatcherError("the watcher's bitcoind must run with -txindex=1")
        if info["synced"]:
            return True
        log.info("watcher: bitcoind's txindex is at %d, syncing", info["best_block_height"])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), poll)
            return False


async def run_watcher(config: Config) -> None:
    """Watch until stopped; every part is the watcher's own (bitcoind client, node client,
    state directory)."""
    settings = watcher_section(config)
    assert settings.genesis_file is not None  # WatcherConfig requires it
    genesis = Genesis.load(settings.genesis_file)
    account = load_account(settings.key_file, settings.private_key, "watcher.")
    faults = Faults(settings.crash_at)
    vault = VaultSettings.from_config(config)
    settings.datadir.mkdir(parents=True, exist_ok=True)
    async with (
        stop_on_signals() as stopping,
        BitcoinRPC.from_config(config.bitcoin) as rpc,
        NodeClient(settings.node_rpc_url, settings.node_timeout) as node,
    ):
        chain_id = await wait_for_chain_id(node, stopping, settings.poll_interval, "watcher")
        if chain_id is None or not await wait_for_txindex(rpc, stopping, settings.poll_interval):
            return
        if chain_id != genesis.chain_id:
            raise WatcherError(
                f"the node's chain id is {chain_id}, the genesis file's {genesis.chain_id}"
            )
        replay = ChainReplay(settings.datadir, genesis, node)
        try:
            sender = CourtSender(node, account, chain_id)
            watcher = Watcher(
                settings.datadir / STATE_FILE,
                node,
                rpc,
                Judge(vault, rpc, replay, config.bitcoin.confirmations),
                sender,
                settings.challenge,
                settings.bond_wei,
                faults,
            )
            log.info(
                "watcher: %s, challenges %s, replayed to block %s, events read to block %s",
                sender.address,
                "on" if settings.challenge else "off",
                replay.head(),
                watcher.checkpoint(),
            )
            await Daemon([replay, watcher], settings.poll_interval, stopping).run()
        finally:
            replay.close()


async def challenge_now(config: Config, claim_id: bytes) -> str:
    """`sluice watcher challenge`: judge one claim with this watcher's checks and challenge it
    at once; the challenge's transaction hash. Raises `WatcherError` when the claim is unknown,
    cannot be judged yet or holds, and `CourtRefused` with the court's reason (a window
    closed, a claim challenged already): nothing is sent then."""
    settings = watcher_section(config)
    assert settings.genesis_file is not None
    genesis = Genesis.load(settings.genesis_file)
    account = load_account(settings.key_file, settings.private_key, "watcher.")
    state = WatcherState.load(settings.datadir / STATE_FILE)
    async with (
        BitcoinRPC.from_config(config.bitcoin) as rpc,
        NodeClient(settings.node_rpc_url, settings.node_timeout) as node,
    ):
        work = await claim_work(node, claim_id)
        if work is None:
            raise WatcherError(f"the court has no claim 0x{claim_id.hex()}")
        replay = ChainReplay(settings.datadir, genesis, node)
        try:
            judge = Judge(
                VaultSettings.from_config(config), rpc, replay, config.bitcoin.confirmations
            )
            verdict = await judge.judge(work, state.requests)
        finally:
            replay.close()
        if verdict is None:
            raise WatcherError(f"claim 0x{claim_id.hex()} cannot be judged here yet")
        if verdict.holds:
            raise WatcherError(f"claim 0x{claim_id.hex()} holds: {verdict.reason}")
        sender = CourtSender(node, account, await node.chain_id())
        evidence = bytes.fromhex((verdict.evidence or "0x")[2:])
        data = court.challenge_calldata(claim_id, evidence, verdict.deficit)
        bond = settings.bond_wei or await min_bond(node)
        action = f"challenge:0x{claim_id.hex()}"
        pending = await sender.sign_action(action, data, bond)
        receipt = await sender.send(pending)
        if receipt is None or not receipt.succeeded:
            raise WatcherError(f"the challenge {pending.tx_hash} was not mined as sent")
        return pending.tx_hash
