"""`sluice federation init`: write the keys and configs of a local m-of-n federation."""

import argparse
from pathlib import Path

from relayer.federation import FederationPlan, init_federation


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser("federation", help="set up a federation's keys and configs")
    commands = parser.add_subparsers(dest="federation_command", required=True, metavar="ACTION")
    init = commands.add_parser("init", help="write members' keys (0600), configs, public file")
    init.add_argument("--members", type=int, default=3, help="n: how many members (default 3)")
    init.add_argument("--threshold", type=int, default=2, help="m: signatures needed (default 2)")
    init.add_argument("--dir", type=Path, required=True, help="where to write (one folder each)")
    init.add_argument("--network", default="regtest", help="Bitcoin network (default regtest)")
    init.add_argument("--signing-port-base", type=int, default=18600, help="member i: base+i")
    init.add_argument("--bitcoin-rpc-url", default="http://127.0.0.1:18443")
    init.add_argument("--bitcoin-rpc-user", default="")
    init.add_argument("--bitcoin-rpc-password", default="")
    init.add_argument("--node-rpc-url", default="http://127.0.0.1:8545")
    init.add_argument("--confirmations", type=int, default=6, help="deposit depth (default 6)")
    init.add_argument("--usdt-property-id", type=int, default=31, help="Omni property of USDT")
    init.add_argument(
        "--scan-start-height", type=int, default=0, help="first Bitcoin block the relayers scan"
    )
    init.add_argument(
        "--challenge-window-blocks", type=int, default=6, help="withdrawal window W (default 6)"
    )
    init.set_defaults(handler=_init)


def _init(args: argparse.Namespace) -> int:
    plan = FederationPlan(
        directory=args.dir,
        members=args.members,
        threshold=args.threshold,
        network=args.network,
        signing_port_base=args.signing_port_base,
        bitcoin_rpc_url=args.bitcoin_rpc_url,
        bitcoin_rpc_user=args.bitcoin_rpc_user,
        bitcoin_rpc_password=args.bitcoin_rpc_password,
        node_rpc_url=args.node_rpc_url,
        confirmations=args.confirmations,
        usdt_property_id=args.usdt_property_id,
        scan_start_height=args.scan_start_height,
        challenge_window_blocks=args.challenge_window_blocks,
    )
    members = init_federation(plan)
    print(f"wrote a {plan.threshold}-of-{plan.members} federation in {plan.directory}:")
    for keys in members:
        print(f"  member {keys.member_id}: {keys.address} {keys.bitcoin_public.hex()}")
    print(f"  public description: {plan.directory / 'federation.json'}")
    print(f"  sidechain genesis:  {plan.directory / 'genesis.toml'}")
    return 0
