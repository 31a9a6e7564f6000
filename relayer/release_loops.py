"""The withdrawal side's loop factory for `relayer.runner`: withdrawals, releases, commitments.

Registered in `relayer.loops.LOOP_FACTORIES`. It starts this member's signing server (on
`relayer.signing_host:port`, closed with `ctx.resources`) and builds the three stages over one
`Federation`, so they share its spend lock. Settings not in the config yet use the dataclass
defaults.
"""

from collections.abc import Sequence

from bridge.bitcoin.network import Network
from relayer.commitments import CommitmentSettings, CommitmentStage
from relayer.daemon import Loop
from relayer.release import ReleaseSettings, ReleaseStage
from relayer.release_build import SpendRules
from relayer.release_check import SpendChecker
from relayer.release_sidechain import BridgeChain
from relayer.runner import RelayerContext
from relayer.signing import BridgeDomain, Peer, SigningMember
from relayer.signing_client import Federation, PeerClient
from relayer.signing_server import SigningServer
from relayer.vault import Vault, VaultSettings
from relayer.withdrawals import WithdrawalSettings, WithdrawalStage
from sidechain.predeploys import BRIDGE_ADDRESS


async def withdrawal_loops(ctx: RelayerContext) -> Sequence[Loop]:
    config = ctx.config
    bridge, relayer = config.bridge, config.relayer
    network = str(Network.named(config.bitcoin.network))
    vault_settings = VaultSettings(
        federation_keys=tuple(bytes.fromhex(key) for key in bridge.federation_pubkeys),
        threshold=bridge.threshold,
        network=network,
        usdt_property_id=bridge.usdt_property_id,
    )
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
    federation = Federation(member, peers, client, bridge.threshold)
    vault = Vault(vault_settings, ctx.sessions, ctx.bitcoin)
    release_settings = ReleaseSettings(confirmations=config.bitcoin.confirmations)
    rotation = release_settings.rotation_blocks
    return [
        WithdrawalStage(
            WithdrawalSettings(
                challenge_window_blocks=bridge.challenge_window_blocks, rotation_blocks=rotation
            ),
            ctx.sessions,
            ctx.bitcoin,
            chain,
            checker,
            federation,
            ctx.faults,
        ),
        ReleaseStage(
            release_settings,
            rules,
            ctx.sessions,
            ctx.bitcoin,
            vault,
            federation,
            chain,
            ctx.faults,
        ),
        CommitmentStage(
            CommitmentSettings(rotation_blocks=rotation),
            rules,
            ctx.sessions,
            ctx.bitcoin,
            vault,
            federation,
            chain,
            ctx.faults,
        ),
    ]
