"""Lending end to end on `sluice devnet`, as a user and the federation would run it: BTC
deposited over the bridge, restaked into rsBTC and lent against (USDT), and leveraged to 3x in
one call; the oracle pushers post the price a person writes into the price file, and the
liquidator liquidates the USDT loan with the bonus paid; then two members mint a deposit
Bitcoin never saw, the court voids their claim and slashes them, rsBTC delegated to them loses
half its value at once, and the liquidator liquidates the leveraged position (its debt beyond
the collateral written off as bad debt); `sluice audit` holds again."""

import json
import secrets
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from web3 import Web3
from web3.logs import DISCARD

from lending.pool_model import MAX_UINT, WAD
from regtest.util import wait_until
from relayer.keys import MemberKeys, load_keys_file
from restaking.court import ClaimStatus
from restaking.evidence import DepositEvidence, encode_evidence, evidence_claim_id
from sidechain.attestation import Attestation, sign_attestation
from sidechain.predeploys import (
    BRIDGE_ADDRESS,
    BTC_VAULT_ADDRESS,
    COURT_ADDRESS,
    LEVERAGE_ROUTER_ADDRESS,
    USDT_ADDRESS,
)
from sluice.processes import sluice_command
from tests.lending.stack import WEI_PER_SAT, Chain
from tests.relayer.devnet.test_devnet import Devnet

pytestmark = pytest.mark.xdist_group("lending-devnet")
UNIT = 10**8
BTC, USDT, RSBTC = 0, 1, 2
DEPOSIT_SATS = 50_000_000
RESTAKED_SATS = 600_000  # rsBTC collateral of the USDT loan: $360 at 60,000
LOAN_USDT = 265 * UNIT  # loan-to-value 75% allows $270; health 0.8 * 360 / 265 = 1.087
LEVERAGE_EQUITY_SATS = 10_000_000
LENT_SATS = 40_000_000  # a demo account's BTC supply, which the leverage borrows
FAKE_SATS = 10_000_000


class Lending(Chain):
    """The devnet's chain and what its manifest says about lending and the federation."""

    def __init__(self, devnet: Devnet) -> None:
        super().__init__(devnet.manifest["node"]["rpc_url"])
        self.devnet = devnet
        manifest = devnet.manifest
        self.chain_id = manifest["node"]["chain_id"]
        self.demo = [a["evm_private_key"] for a in manifest["demo_accounts"]]
        self.members: list[MemberKeys] = [
            load_keys_file(Path(config).parent / "keys.json")
            for config in manifest["federation"]["member_configs"]
        ]
        self.usdt = self.contract("USDT", USDT_ADDRESS)
        self.vault = self.contract("RestakingVault", BTC_VAULT_ADDRESS)
        self.router = self.contract("LeverageRouter", LEVERAGE_ROUTER_ADDRESS)
        self.court = self.contract("ChallengeCourt", COURT_ADDRESS)
        self.liquidator = manifest["liquidator"]["address"]

    def member_key(self, n: int) -> str:
        return "0x" + self.members[n].evm_private_key.hex()

    def member_address(self, n: int) -> str:
        return Web3.to_checksum_address(self.members[n].address)

    def write_prices(self, **prices: str) -> None:
        path = Path(self.devnet.manifest["oracle"]["price_file"])
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(prices))
        partial.replace(path)

    def events(self, contract: Any, name: str, **match: Any) -> list[dict[str, Any]]:
        found = getattr(contract.events, name)().get_logs(from_block=0)
        return [
            dict(e["args"])
            for e in found
            if all(e["args"][key] == value for key, value in match.items())
        ]

    def audit(self) -> tuple[int, dict[str, Any]]:
        config = self.devnet.manifest["federation"]["member_configs"][0]
        done = subprocess.run(
            sluice_command("audit", "--config", config, "--json"),
            capture_output=True,
            text=True,
            timeout=120,
        )
        return done.returncode, json.loads(done.stdout)


def deposit_over_the_bridge(devnet: Devnet, chain: Lending) -> str:
    """A new user's BTC, paid on regtest to its deposit address and minted; its key."""
    user = Account.create()
    address = devnet.api("/v1/deposit-addresses", {"evm_address": user.address})["address"]
    wait_until(lambda: devnet.known_to_every_member(address), 60)
    devnet.bitcoin("sendtoaddress", address, f"{DEPOSIT_SATS / UNIT:.8f}")
    devnet.bitcoin("generatetoaddress", 2, devnet.bitcoin("getnewaddress"))
    wait_until(lambda: chain.w3.eth.get_balance(user.address) == DEPOSIT_SATS * WEI_PER_SAT, 120)
    return "0x" + bytes(user.key).hex()


def lend(chain: Lending) -> None:
    """Demo accounts supply BTC and their bridged USDT to the pool."""
    pool = chain.pool.functions
    chain.ok(chain.demo[0], pool.supply(BTC, LENT_SATS), LENT_SATS * WEI_PER_SAT)
    for key in chain.demo:
        held = chain.usdt.functions.balanceOf(Account.from_key(key).address).call()
        chain.ok(key, chain.usdt.functions.approve(chain.pool.address, MAX_UINT))
        chain.ok(key, pool.supply(USDT, held))


def mint_what_bitcoin_never_saw(chain: Lending, signers: list[int]) -> Attestation:
    """Two members attest a BTC deposit that is not on Bitcoin; the Bridge mints it."""
    thief = Account.create().address
    fake = Attestation(secrets.token_bytes(32), 0, BTC, FAKE_SATS, bytes.fromhex(thief[2:]))
    body = {
        "txid": "0x" + fake.txid.hex(),
        "vout": "0x0",
        "asset": "BTC",
        "amount": hex(FAKE_SATS),
        "recipient": thief,
    }
    node = chain.w3.provider
    for n in signers:
        signature = sign_attestation(
            fake, chain.members[n].evm_private_key, chain.chain_id, BRIDGE_ADDRESS
        )
        node.make_request("sluice_submitAttestation", [body, "0x" + signature.hex()])
    wait_until(lambda: chain.w3.eth.get_balance(thief) == FAKE_SATS * WEI_PER_SAT, 60)
    return fake


@pytest.mark.timeout(900)
def test_leverage_price_move_and_slash_are_liquidated_on_the_devnet(tmp_path: Path) -> None:
    devnet = Devnet(tmp_path / "devnet")
    devnet.start()
    try:
        run_scenario(devnet)
    finally:
        devnet.interrupt()


def run_scenario(devnet: Devnet) -> None:
    chain = Lending(devnet)
    manifest = devnet.manifest
    assert {"oracle", "liquidator", "lending"} <= manifest.keys()
    assert {"oracle-1", "oracle-2", "oracle-3", "liquidator"} <= manifest["logs"].keys()
    assert chain.price(BTC)[0] == 60_000 * UNIT and chain.price(USDT)[0] == UNIT  # at once
    pool, vault = chain.pool.functions, chain.vault.functions
    operator = chain.member_address(0)  # X: the operator the user restakes with

    # BTC over the bridge; restaked into rsBTC, supplied, and lent against in USDT.
    key = deposit_over_the_bridge(devnet, chain)
    user = Account.from_key(key).address
    lend(chain)
    chain.ok(key, vault.deposit(operator, RESTAKED_SATS), RESTAKED_SATS * WEI_PER_SAT)
    shares = vault.balanceOf(user).call()
    chain.ok(key, vault.approve(chain.pool.address, shares))
    chain.ok(key, pool.supply(RSBTC, shares))
    chain.ok(key, pool.borrow(USDT, LOAN_USDT))

    # Leverage to 3x in one call, health kept above 1.1.
    receipt = chain.ok(
        key,
        chain.router.functions.leverage(operator, 30_000, 11 * WAD // 10),
        LEVERAGE_EQUITY_SATS * WEI_PER_SAT,
    )
    [leveraged] = chain.router.events.Leveraged().process_receipt(receipt, errors=DISCARD)
    assert leveraged["args"]["staked"] == 3 * LEVERAGE_EQUITY_SATS
    account = leveraged["args"]["account"]
    position = devnet_get(devnet, f"/v1/positions/{account}")
    assert position["markets"][RSBTC]["collateral"] >= 3 * LEVERAGE_EQUITY_SATS - 3
    assert 1.15 < float(position["health_factor"]) < 1.25
    assert devnet_get(devnet, f"/v1/positions/{user}")["leverage_account"] == account

    # The price file moves BTC down 10%: the pushers post it, the liquidator takes the loan.
    chain.write_prices(BTC="54000", USDT="1")
    wait_until(lambda: chain.price(BTC)[0] == 54_000 * UNIT, 60)
    wait_until(lambda: chain.events(chain.pool, "Liquidated", borrower=user), 60)
    [taken] = chain.events(chain.pool, "Liquidated", borrower=user)
    assert taken["liquidator"] == chain.liquidator
    assert (taken["debt_market"], taken["collateral_market"]) == (USDT, RSBTC)
    assert taken["repaid"] * 2 <= LOAN_USDT + 10**6  # close factor 50% (health 0.98)
    # the bonus: 5% more rsBTC value than the USDT repaid
    assert taken["seized"] == taken["repaid"] * UNIT * 10_500 // (10_000 * 54_000 * UNIT)
    assert not chain.events(chain.pool, "Liquidated", borrower=account)  # BTC against BTC

    # Members X and Y mint a deposit Bitcoin never saw; at once (the windows are short on a
    # devnet) a challenge, the honest member's vote, the claim void: X and Y slashed by half.
    fake = mint_what_bitcoin_never_saw(chain, [0, 1])
    tip = bytes.fromhex(devnet.bitcoin("getbestblockhash"))
    evidence = DepositEvidence(fake, tip_hash=tip)
    claim = evidence_claim_id(evidence, chain.chain_id)
    court = chain.court.functions
    bond = court.min_bond().call()
    challenger = chain.demo[2]
    chain.ok(challenger, court.challenge(claim, encode_evidence(evidence), FAKE_SATS), bond)
    chain.ok(chain.member_key(2), court.vote(claim, True))
    before = vault.assets_of(pool.purses(account).call()).call()
    chain.ok(challenger, court.resolve(claim))
    assert court.claim_of(claim).call()[1] == ClaimStatus.VOID
    purse = pool.purses(account).call()
    assert vault.assets_of(purse).call() <= before // 2 + 1  # rsBTC of X lost half at once

    # The leveraged position is now below 1 (0.8 * 1.5 / 2 = 0.6): liquidated in full, the
    # debt its collateral cannot cover written off against the reserves.
    wait_until(lambda: chain.events(chain.pool, "Liquidated", borrower=account), 90)
    [slashed] = chain.events(chain.pool, "Liquidated", borrower=account)
    assert (slashed["debt_market"], slashed["collateral_market"]) == (BTC, RSBTC)
    assert slashed["liquidator"] == chain.liquidator
    assert vault.assets_of(purse).call() == 0
    [written_off] = chain.events(chain.pool, "BadDebtWrittenOff", account=account)
    assert written_off["amount"] > 0 and pool.debt_balance(BTC, account).call() == 0

    # The slash covered what the fake deposit minted: the audit holds again.
    status, report = chain.audit()
    assert status == 0, report
    assert report["BTC"]["holds"] and report["USDT"]["holds"], report


def devnet_get(devnet: Devnet, path: str) -> dict[str, Any]:
    """GET from the devnet's API."""
    with urllib.request.urlopen(devnet.manifest["api"]["url"] + path, timeout=30) as reply:
        return dict(json.loads(reply.read()))
