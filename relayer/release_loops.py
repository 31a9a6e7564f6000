"""The loop factory of everything that talks to the other members, for `relayer.runner`:
withdrawals, releases, commitments, and the news feeds of relayer.gossip.

Registered in `relayer.loops.LOOP_FACTORIES`. It starts this member's signing server (on
`relayer.signing_host:port`, closed with `ctx.resources`) and builds the stages over one
`Federation`, so the vault spends share its spend lock. Their settings come from the config:
`[vault]` (fees, RBF, batch size, rotation, commitment interval),
`bridge.challenge_window_blocks` and `bitcoin.confirmations`.
"""

from collections.abc import Sequence

from relayer.commitments import CommitmentStage
from relayer.daemon import Loop
from relayer.gossip import AddressFeed, SpendFeed
from relayer.release import ReleaseStage
from relayer.release_build import SpendRules
from relayer.release_check import SpendChecker
from relayer.release_sidechain import BridgeChain
from relayer.runner import RelayerContext
from relayer.signing import BridgeDomain, Peer, SigningMember
from relayer.signing_client import Federation, PeerClient
from relayer.signing_server import SigningServer
from relayer.vault import Vault, VaultSettings
from relayer.withdrawals import WithdrawalStage
from sidechain.predeploys import BRIDGE_ADDRESS


async def federation_loops(ctx: RelayerContext) -> Sequence[Loop]:
    config = ctx.config
    bridge, relayer = config.bridge, config.relayer
    vault_settings = VaultSettings.from_config(config)
    rules = SpendRules(usdt_property_id=bridge.usdt_property_id)
    chain = BridgeChain(ctx.node, BRIDGE_ADDRESS, ctx.chain_id)
    checker = SpendChecker(vault_settings, rules, ctx.bitcoin, chain.state_root)
    member = SigningMember(
        ctx.keys, ctx.sessions, ctx.bitcoin, checker, BridgeDomain(ctx.chain_id, BRIDGE_ADDRESS)
    )
    peers = [
        Peer(address.lower(), url)
        for address, url in zip(relayer.peer_addresses, relayer.peer_urls, strict=True)
    ]
    server = SigningServer(member, peers, relayer.signing_host, relayer.signing_port)
    await ctx.resources.enter_async_context(server)
    client = PeerClient(ctx.keys)
    ctx.resources.push_async_callback(client.close)
    federation = Federation(member, peers, client, bridge.threshold, config.vault.rotation_blocks)
    vault = Vault(vault_settings, ctx.sessions, ctx.bitcoin)
    return [
        WithdrawalStage(
            bridge.challenge_window_blocks,
            ctx.sessions,
            ctx.bitcoin,
            chain,
            checker,
            federation,
            ctx.faults,
        ),
        ReleaseStage(
            config.bitcoin.confirmations,
            rules,
            ctx.sessions,
            ctx.bitcoin,
            vault,
            federation,
            chain,
            ctx.faults,
        ),
        CommitmentStage(rules, ctx.sessions, ctx.bitcoin, vault, federation, chain, ctx.faults),
        AddressFeed(ctx.sessions, federation),
        SpendFeed(ctx.sessions, federation),
    ]
