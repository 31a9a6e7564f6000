"""`sluice federation init`: the keys, configs and public description a local federation needs.

For members 1..n it writes, each in its own folder (members never share a file or a database):
    DIR/member-<i>/keys.json      the member's Bitcoin and EVM keys, mode 0600
    DIR/member-<i>/relayer.toml   its config (0600: bitcoind password): its own SQLite ledger,
                                  bitcoind settings, peers, the deposit rules and the [vault]
                                  policy (every member must hold the same)
and for everyone:
    DIR/federation.json           public: network, threshold, each member's Bitcoin public key,
                                  EVM address and signing URL (what the API and genesis need)
    DIR/genesis.toml              a sidechain genesis with this federation (members, and the
                                  plan's `funded_accounts`, funded with gas), for
                                  `sluice node init --genesis`

`watcher_config` writes the config of a `sluice watcher run` checking this federation.
"""

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from eth_utils import to_checksum_address

from bridge.bitcoin.omni.payload import MAINNET_USDT
from relayer.errors import FederationSetupError
from relayer.keys import (
    MemberKeys,
    load_keys_file,
    replace_private_file,
    write_keys_file,
    write_private_file,
)
from sidechain.genesis import DEV_CHAIN_ID
from sluice.config import BridgeConfig, RelayerConfig, VaultConfig

MEMBER_GAS_WEI = 100 * 10**18
MAX_MEMBERS = 15  # a bare m-of-n CHECKMULTISIG in P2WSH


@dataclass(frozen=True)
class FederationPlan:
    """What `init_federation` is asked to write; checked on construction."""

    directory: Path
    members: int
    threshold: int
    network: str = "regtest"
    signing_port_base: int = 18600
    bitcoin_rpc_url: str = "http://127.0.0.1:18443"
    bitcoin_rpc_user: str = ""
    bitcoin_rpc_password: str = ""
    node_rpc_url: str = "http://127.0.0.1:8545"
    confirmations: int = 6
    chain_id: int = DEV_CHAIN_ID
    usdt_property_id: int = MAINNET_USDT
    scan_start_height: int = 0  # Bitcoin height the relayers start scanning (and Omni) at
    challenge_window_blocks: int = 6
    poll_interval: float = 1.0
    resubmit_after: float = 5.0
    vault: VaultConfig = field(default_factory=VaultConfig)
    funded_accounts: tuple[str, ...] = ()  # EVM addresses given gas at genesis (watchers)

    def __post_init__(self) -> None:
        if not 1 <= self.members <= MAX_MEMBERS:
            raise FederationSetupError(f"--members must be 1..{MAX_MEMBERS}, got {self.members}")
        if not 1 <= self.threshold <= self.members:
            raise FederationSetupError(
                f"--threshold must be 1..{self.members} (the members), got {self.threshold}"
            )
        # The settings each member's config will hold, checked now: nothing is written if bad.
        BridgeConfig(
            usdt_property_id=self.usdt_property_id,
            challenge_window_blocks=self.challenge_window_blocks,
        )
        RelayerConfig(
            poll_interval=self.poll_interval,
            resubmit_after=self.resubmit_after,
            scan_start_height=self.scan_start_height,
        )
        if not 1024 <= self.signing_port_base <= 65535 - self.members:
            raise FederationSetupError(
                f"--signing-port-base must leave room for {self.members} ports below 65536, "
                f"got {self.signing_port_base}"
            )

    def signing_url(self, member_id: int) -> str:
        return f"http://127.0.0.1:{self.signing_port_base + member_id}"


def init_federation(plan: FederationPlan) -> list[MemberKeys]:
    """Write every file (refusing to overwrite a federation already there); returns the keys."""
    if (plan.directory / "federation.json").exists():
        raise FederationSetupError(f"{plan.directory} already holds a federation")
    members = [MemberKeys.generate(i) for i in range(1, plan.members + 1)]
    plan.directory.mkdir(parents=True, exist_ok=True)
    for keys in members:
        folder = plan.directory / f"member-{keys.member_id}"
        folder.mkdir(mode=0o700, exist_ok=True)
        write_keys_file(folder / "keys.json", keys)
        write_private_file(folder / "relayer.toml", member_config(plan, keys, members, folder))
    _write_public_files(plan, members)
    return members


def open_federation(plan: FederationPlan) -> list[MemberKeys]:
    """The federation `init_federation` wrote in `plan.directory`: its members' keys, with each
    member's config and the public files written again from `plan` (the keys never change; a
    bitcoind password or a port may, between two runs of a devnet)."""
    found = sorted(plan.directory.glob("member-*"))
    if len(found) != plan.members or not (plan.directory / "federation.json").exists():
        raise FederationSetupError(
            f"{plan.directory} does not hold a federation of {plan.members} members "
            f"({len(found)} member folders)"
        )
    members = [
        load_keys_file(plan.directory / f"member-{i}" / "keys.json")
        for i in range(1, plan.members + 1)
    ]
    for keys in members:
        folder = plan.directory / f"member-{keys.member_id}"
        replace_private_file(folder / "relayer.toml", member_config(plan, keys, members, folder))
    _write_public_files(plan, members)
    return members


def _write_public_files(plan: FederationPlan, members: list[MemberKeys]) -> None:
    (plan.directory / "federation.json").write_text(public_description(plan, members))
    (plan.directory / "genesis.toml").write_text(genesis_toml(plan, members))


def public_description(plan: FederationPlan, members: list[MemberKeys]) -> str:
    return (
        json.dumps(
            {
                "network": plan.network,
                "threshold": plan.threshold,
                "members": [
                    {
                        "member_id": keys.member_id,
                        "bitcoin_public_key": keys.bitcoin_public.hex(),
                        "evm_address": to_checksum_address(keys.address),
                        "signing_url": plan.signing_url(keys.member_id),
                    }
                    for keys in members
                ],
            },
            indent=2,
        )
        + "\n"
    )


def _toml_list(values: list[str]) -> str:
    return "[" + ", ".join(json.dumps(value) for value in values) + "]"


def member_config(
    plan: FederationPlan, keys: MemberKeys, members: list[MemberKeys], folder: Path
) -> str:
    peers = [other for other in members if other.member_id != keys.member_id]
    ledger = (folder / "ledger.sqlite3").resolve()
    return f"""# Federation member {keys.member_id}: its own keys, ledger and bitcoind.
{_bitcoin_section(plan)}
[ledger]
url = "sqlite:///{ledger}"
{_bridge_section(plan, members)}challenge_window_blocks = {plan.challenge_window_blocks}

[relayer]
member_id = {keys.member_id}
keys_file = "{(folder / "keys.json").resolve()}"
node_rpc_url = "{plan.node_rpc_url}"
signing_port = {plan.signing_port_base + keys.member_id}
peer_addresses = {_toml_list([p.address for p in peers])}
peer_urls = {_toml_list([plan.signing_url(p.member_id) for p in peers])}
poll_interval = {plan.poll_interval}
resubmit_after = {plan.resubmit_after}
scan_start_height = {plan.scan_start_height}

[vault]
{_toml_table(plan.vault)}"""


def _bitcoin_section(plan: FederationPlan) -> str:
    return f"""
[bitcoin]
network = "{plan.network}"
rpc_url = "{plan.bitcoin_rpc_url}"
rpc_user = "{plan.bitcoin_rpc_user}"
rpc_password = "{plan.bitcoin_rpc_password}"
confirmations = {plan.confirmations}
"""


def _bridge_section(plan: FederationPlan, members: list[MemberKeys]) -> str:
    return f"""
[bridge]
federation_pubkeys = {_toml_list([m.bitcoin_public.hex() for m in members])}
threshold = {plan.threshold}
usdt_property_id = {plan.usdt_property_id}
"""


def _toml_table(section: VaultConfig) -> str:
    return "".join(
        f"{item.name} = {getattr(section, item.name)}\n" for item in dataclasses.fields(section)
    )


def genesis_toml(plan: FederationPlan, members: list[MemberKeys]) -> str:
    addresses = _toml_list([to_checksum_address(keys.address) for keys in members])
    funded = [keys.address for keys in members] + list(plan.funded_accounts)
    accounts = "".join(
        f'\n[[accounts]]\naddress = "{to_checksum_address(address)}"\n'
        f'balance = "{MEMBER_GAS_WEI}"\n'
        for address in funded
    )
    return (
        f"chain_id = {plan.chain_id}\ndev = true\nblock_interval = 1.0\n\n"
        f"[federation]\nmembers = {addresses}\nthreshold = {plan.threshold}\n{accounts}"
    )


def watcher_config(
    plan: FederationPlan,
    members: list[MemberKeys],
    genesis_file: Path,
    datadir: Path,
    key_file: Path,
    challenge: bool,
) -> str:
    """A `sluice watcher run` config checking this federation's chain (started from
    `genesis_file`): its own state in `datadir`, the account of `key_file` (a member's keys
    file makes it that operator's voter)."""
    return f"""# A watcher of the federation in {plan.directory}: its own state and account.
{_bitcoin_section(plan)}{_bridge_section(plan, members)}
[watcher]
genesis_file = "{genesis_file.resolve()}"
datadir = "{datadir.resolve()}"
node_rpc_url = "{plan.node_rpc_url}"
key_file = "{key_file.resolve()}"
challenge = {"true" if challenge else "false"}
poll_interval = {plan.poll_interval}
"""
