"""On a real `sluice node run` (dev genesis), over web3: every predeploy answers, the federation
members are operators with their genesis stake, and a stake -> reward -> unstake -> claim cycle
is exact to the base unit (and to the wei of the staker's balance), a claim before the
unbonding delay refused."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from web3 import Web3
from web3.exceptions import ContractLogicError
from web3.logs import DISCARD

from lending.deploy import DEFAULT_MARKETS
from regtest.util import wait_until
from restaking.vault_model import VaultModel
from sidechain.contracts import load_artifact
from sidechain.datadir import DEV_FEDERATION_FILE, read_dev_accounts
from sidechain.genesis import DEFAULT_WITHDRAWAL_FEE_BPS, DEV_ACCOUNTS_FILE, DEV_RESTAKING
from sidechain.predeploys import (
    BRIDGE_ADDRESS,
    BTC_VAULT_ADDRESS,
    COURT_ADDRESS,
    LEVERAGE_ROUTER_ADDRESS,
    ORACLE_ADDRESS,
    POOL_ADDRESS,
    REGISTRY_ADDRESS,
    USDT_ADDRESS,
    USDT_VAULT_ADDRESS,
)
from tests.support.node import NodeProcess, init_dev

WEI_PER_SAT = 10**10
GAS = 500_000
COMMISSION_BPS = DEV_RESTAKING.operator_commission_bps


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    datadir = init_dev(tmp_path_factory.mktemp("node"))
    process = NodeProcess(datadir, block_interval=0.2)
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def w3(node: NodeProcess) -> Web3:
    return Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 30}))


def contract(w3: Web3, name: str, address: bytes) -> Any:
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=load_artifact(name).abi)


def send(w3: Web3, key: str, call: Any, value: int = 0) -> dict[str, Any]:
    """Sign and send `call` from `key`'s account; its receipt."""
    sender = Account.from_key(key)
    tx = call.build_transaction(
        {
            "from": sender.address,
            "nonce": w3.eth.get_transaction_count(sender.address),
            "value": value,
            "gas": GAS,
            "chainId": w3.eth.chain_id,
        }
    )
    signed = sender.sign_transaction(tx)
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(signed.raw_transaction), timeout=30
    )
    assert receipt["status"] == 1, receipt
    return dict(receipt)


def test_every_predeploy_answers_on_the_node(node, w3):
    members = [m.address for m in read_dev_accounts(node.datadir / DEV_FEDERATION_FILE)]
    bridge = contract(w3, "Bridge", BRIDGE_ADDRESS)
    assert bridge.functions.members().call() == members
    assert bridge.functions.withdrawal_fee_bps().call() == DEFAULT_WITHDRAWAL_FEE_BPS
    assert contract(w3, "USDT", USDT_ADDRESS).functions.decimals().call() == 8
    assert contract(w3, "OperatorRegistry", REGISTRY_ADDRESS).functions.operators().call() == (
        members
    )
    for address, symbol, stake in (
        (BTC_VAULT_ADDRESS, "rsBTC", DEV_RESTAKING.operator_stake_sats),
        (USDT_VAULT_ADDRESS, "rsUSDT", 0),
    ):
        vault = contract(w3, "RestakingVault", address)
        assert vault.functions.symbol().call() == symbol
        assert [vault.functions.stake_of(m).call() for m in members] == [stake] * len(members)
    court = contract(w3, "ChallengeCourt", COURT_ADDRESS)
    assert court.functions.claim_window().call() == DEV_RESTAKING.params.claim_window
    assert court.functions.bridge().call() == bridge.address
    assert contract(w3, "PriceOracle", ORACLE_ADDRESS).functions.max_age().call() > 0
    pool = contract(w3, "LendingPool", POOL_ADDRESS)
    for market, config in DEFAULT_MARKETS.items():
        assert pool.functions.markets(market).call() == config.as_tuple()
    assert contract(w3, "LeverageRouter", LEVERAGE_ROUTER_ADDRESS).functions.pool().call() == (
        pool.address
    )


def test_stake_reward_unstake_claim_is_exact_on_the_node(node, w3):
    staker, payer = read_dev_accounts(Path(node.datadir) / DEV_ACCOUNTS_FILE)[:2]
    operator = read_dev_accounts(node.datadir / DEV_FEDERATION_FILE)[0].address
    vault = contract(w3, "RestakingVault", BTC_VAULT_ADDRESS)
    model = VaultModel(DEV_RESTAKING.params.unbonding_blocks)
    model.deposit(operator, operator, DEV_RESTAKING.operator_stake_sats)  # the genesis stake

    sats = 1_234_567
    receipt = send(
        w3, staker.private_key, vault.functions.deposit(operator, sats), sats * WEI_PER_SAT
    )
    [staked] = vault.events.Staked().process_receipt(receipt, errors=DISCARD)
    assert staked["args"]["shares"] == model.deposit(staker.address, operator, sats)
    reward = 76_543
    send(w3, payer.private_key, vault.functions.reward(operator, reward), reward * WEI_PER_SAT)
    commission = model.reward(operator, reward, COMMISSION_BPS)
    assert vault.functions.commission_owed(operator).call() == commission
    owed = vault.functions.assets_of(staker.address).call()
    assert owed > sats  # the reward raised the exchange rate
    shares = vault.functions.balanceOf(staker.address).call()

    receipt = send(w3, staker.private_key, vault.functions.unstake(shares))
    [queued] = vault.events.UnstakeQueued().process_receipt(receipt, errors=DISCARD)
    assert queued["args"]["assets"] == owed
    model.unstake(staker.address, shares, receipt["blockNumber"])
    claimable_at = queued["args"]["claimable_at"]
    assert claimable_at == receipt["blockNumber"] + DEV_RESTAKING.params.unbonding_blocks
    with pytest.raises(ContractLogicError, match="withdrawal still unbonding"):
        vault.functions.claim(0).call({"from": staker.address})

    wait_until(lambda: w3.eth.block_number + 1 >= claimable_at, timeout=60)
    before = w3.eth.get_balance(staker.address)
    receipt = send(w3, staker.private_key, vault.functions.claim(0))
    [claimed] = vault.events.Claimed().process_receipt(receipt, errors=DISCARD)
    paid = model.claim(staker.address, 0, receipt["blockNumber"])
    assert claimed["args"]["assets"] == paid == owed
    fee = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert w3.eth.get_balance(staker.address) == before + paid * WEI_PER_SAT - fee
    assert vault.functions.claimable(staker.address, 0).call() == 0
