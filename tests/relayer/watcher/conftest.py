"""Fraud proofs end to end: a regtest bitcoind, a `sluice node run`, a 2-of-3 federation of
`sluice relayer run` processes, and `sluice watcher run` processes: one per member (voting with
the member's key) and an independent challenger (its own key, given gas at genesis).

The genesis is a dev one (`sluice federation init`): every member is an operator with 1 BTC of
stake in rsBTC, a claim is open for 20 sidechain blocks (a block a second), a challenge for 10
more. The attacker of these tests holds copies of members 1 and 2's keys (the relayers
themselves stay honest software). Each module has a stack of its own: the attacks leave it
changed.
"""

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3 import Web3

from bridge.ledger import WithdrawalStatus
from regtest.node import BitcoindNode
from regtest.util import free_port
from relayer.api.process import serving
from relayer.keys import replace_private_file
from relayer.testing import FederationRig, FederationSettings
from restaking.court import ClaimKind, ClaimStatus, claim_id
from sidechain.attestation import attestation_digest
from sidechain.contracts import load_artifact
from sidechain.genesis import DEV_CHAIN_ID, DEV_RESTAKING
from sidechain.predeploys import BRIDGE_ADDRESS, BTC_VAULT_ADDRESS, COURT_ADDRESS
from sidechain.system_tx import ASSET_BTC
from sluice.config import VaultConfig
from tests.relayer.releases.conftest import attest_bitcoin_never_saw, running_rig
from tests.relayer.support import Bridge

DEPTH = 2
WINDOW = 2
POLICY = VaultConfig(rotation_blocks=4, rbf_after_blocks=2, commitment_interval=40)
PARAMS = DEV_RESTAKING.params
GAS = 600_000


@pytest.fixture(scope="module")
def federation(
    chain: BitcoindNode, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FederationRig]:
    settings = FederationSettings(
        confirmations=DEPTH,
        challenge_window_blocks=WINDOW,
        scan_start_height=int(chain.getblockcount()),
        vault=POLICY,
        watchers=True,
    )
    with running_rig(chain, tmp_path_factory.mktemp("federation"), settings) as rig:
        yield rig


@pytest.fixture(scope="module")
def api(federation: FederationRig) -> Iterator[str]:
    """`sluice api` over member 1's ledger and its view of both chains; its base URL."""
    port = free_port()
    config = federation.workdir / "api.toml"
    member = federation.config_path(1).read_text()
    section = f'\n[api]\nport = {port}\nnode_rpc_url = "{federation.node_url}"\n'
    replace_private_file(config, member + section)
    with serving(config, port, federation.logs / "api.log") as url:
        yield url


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as reply:
        return json.loads(reply.read())


@pytest.fixture(scope="module")
def w3(federation: FederationRig) -> Web3:
    return Web3(Web3.HTTPProvider(federation.node_url, request_kwargs={"timeout": 60}))


@pytest.fixture(scope="module")
def bridge(w3: Web3) -> Bridge:
    return Bridge(w3)


class Restaking:
    """The court and the rsBTC vault over web3, and the attacker's calls."""

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3
        self.court = _contract(w3, "ChallengeCourt", COURT_ADDRESS)
        self.vault = _contract(w3, "RestakingVault", BTC_VAULT_ADDRESS)
        self.bridge = _contract(w3, "Bridge", BRIDGE_ADDRESS)

    def status(self, claim: bytes) -> ClaimStatus | None:
        raw = self.court.functions.claim_of(claim).call()
        return None if raw[1] == 0 else ClaimStatus(raw[1])

    def stakes(self, operators: list[str]) -> list[int]:
        return [self.vault.functions.stake_of(op).call() for op in operators]

    def send(self, account: LocalAccount, call: Any, value: int = 0) -> dict[str, Any]:
        """Sign and send `call` from `account`; its receipt (which may have failed)."""
        tx = call.build_transaction(
            {
                "from": account.address,
                "nonce": self.w3.eth.get_transaction_count(account.address, "pending"),
                "value": value,
                "gas": GAS,
                "chainId": self.w3.eth.chain_id,
            }
        )
        tx_hash = self.w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
        return dict(self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60))


def _contract(w3: Web3, name: str, address: bytes) -> Any:
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=load_artifact(name).abi)


@pytest.fixture(scope="module")
def restaking(w3: Web3) -> Restaking:
    return Restaking(w3)


def attackers(federation: FederationRig) -> list[Any]:
    """The keys of members 1 and 2, in the attacker's hands."""
    return federation.keys[:2]


def mint_btc_bitcoin_never_saw(federation: FederationRig, sats: int) -> tuple[str, bytes]:
    """Members 1 and 2's keys attest a BTC deposit that is not on Bitcoin; the Bridge mints it.
    The recipient and the court's id of the claim."""
    fake = attest_bitcoin_never_saw(federation, ASSET_BTC, sats)
    subject = attestation_digest(fake, DEV_CHAIN_ID, BRIDGE_ADDRESS)
    return to_checksum_address(fake.recipient), claim_id(ClaimKind.DEPOSIT_ATTESTATION, subject)


def confirmed(federation: FederationRig, withdrawal: str) -> bool:
    """Member 1's ledger holds the withdrawal's release at the depth."""
    found = federation.read(1, lambda ledger: ledger.withdrawals.get(withdrawal))
    return found is not None and found.status == WithdrawalStatus.CONFIRMED
