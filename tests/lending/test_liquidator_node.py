"""`sluice liquidator run` on a real node beside the oracle pushers: it accrues both markets
every block as the keeper; a BTC price drop puts a USDT borrower below health factor 1 and it
liquidates half the debt for BTC plus the bonus; killed (-9) while a new account borrows, it
resumes from its checkpoint, watches that account and liquidates it once. The node refuses a
borrow over the limit and a liquidation of a healthy position with the reason, state
unchanged."""

import json
import signal
from collections.abc import Iterator

import pytest
from eth_account import Account
from web3.exceptions import ContractLogicError

from lending.pool_model import MAX_UINT
from regtest.util import wait_until
from sidechain.predeploys import USDT_ADDRESS
from tests.lending.stack import (
    WEI_PER_SAT,
    LendingNode,
    LiquidatorProcess,
    Pushers,
    mint_usdt,
    pushing_prices,
    running_node,
)

pytestmark = pytest.mark.xdist_group("lending-liquidator-node")
BTC, USDT = 0, 1
UNIT = 10**8
SUPPLIED_USDT = 200_000 * UNIT
LIQUIDATOR_USDT = 100_000 * UNIT
BORROW_USDT = 41_900 * UNIT  # against 1 BTC at 60,000: 70% loan-to-value allows 42,000


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LendingNode]:
    with running_node(tmp_path_factory.mktemp("node")) as node:
        yield node


@pytest.fixture(scope="module")
def pushers(chain: LendingNode, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pushers]:
    with pushing_prices(chain, tmp_path_factory.mktemp("oracle")) as stack:
        yield stack


@pytest.fixture(scope="module")
def liquidator(chain, pushers, tmp_path_factory) -> Iterator[LiquidatorProcess]:
    account = chain.accounts[0]
    mint_usdt(chain, account.address, LIQUIDATOR_USDT)
    process = LiquidatorProcess(chain, tmp_path_factory.mktemp("liquidator"), account)
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def market(chain, pushers) -> LendingNode:
    """USDT supplied to the pool by a dev account."""
    supplier = chain.accounts[1]
    mint_usdt(chain, supplier.address, SUPPLIED_USDT)
    usdt = chain.contract("USDT", USDT_ADDRESS)
    chain.ok(supplier.private_key, usdt.functions.approve(chain.pool.address, MAX_UINT))
    chain.ok(supplier.private_key, chain.pool.functions.supply(USDT, SUPPLIED_USDT))
    return chain


def new_borrower(chain: LendingNode) -> str:
    """A fresh account with 1 BTC supplied and 41,900 USDT borrowed; its key."""
    key = "0x" + bytes(Account.create().key).hex()
    address = Account.from_key(key).address
    funder = chain.accounts[2]
    chain.pay(funder.private_key, address, 2 * UNIT * WEI_PER_SAT)
    chain.ok(key, chain.pool.functions.supply(BTC, UNIT), UNIT * WEI_PER_SAT)
    chain.ok(key, chain.pool.functions.borrow(USDT, BORROW_USDT))
    return key


def liquidations(chain: LendingNode, borrower: str) -> list[dict]:
    events = chain.pool.events.Liquidated().get_logs(from_block=0)
    return [dict(e["args"]) for e in events if e["args"]["borrower"] == borrower]


def test_the_keeper_accrues_both_markets_every_block(chain, liquidator):
    """Each block's operations read a checkpoint written at most two blocks before (a dev node
    makes a block of each accrue as it comes, so the two markets' accrues alternate)."""
    start = chain.w3.eth.block_number
    wait_until(lambda: chain.w3.eth.block_number >= start + 8, 60)
    for block in range(start + 2, start + 9):
        for market in (BTC, USDT):
            written = chain.pool.functions.checkpoint_of(market).call(block_identifier=block)[0]
            assert block - written <= 2, (market, block, written)
    accrued = chain.pool.events.Accrued().get_logs(from_block=start, to_block=start + 8)
    assert {e["args"]["market"] for e in accrued} == {BTC, USDT}


def test_the_node_refuses_a_borrow_over_the_limit_and_a_healthy_liquidation(market, liquidator):
    chain = market
    key = new_borrower(chain)
    borrower = Account.from_key(key).address
    views = [  # stored balances (debt_balance grows with interest by itself)
        ("scaled_debt", USDT, borrower),
        ("scaled_supply", BTC, borrower),
        ("total_scaled_debt", USDT),
        ("scaled_supply", BTC, chain.accounts[3].address),
    ]
    before = [getattr(chain.pool.functions, name)(*args).call() for name, *args in views]
    over = chain.pool.functions.borrow(USDT, 200 * UNIT)  # 42,100 in all: above 42,000
    healthy = chain.pool.functions.liquidate(borrower, USDT, BTC, 1_000 * UNIT)
    for who, call, reason in (
        (key, over, "borrow exceeds the loan-to-value limit"),
        (chain.accounts[3].private_key, healthy, "position is healthy"),
    ):
        with pytest.raises(ContractLogicError, match=reason):
            call.call({"from": Account.from_key(who).address})
        assert chain.send(who, call)["status"] == 0
    after = [getattr(chain.pool.functions, name)(*args).call() for name, *args in views]
    assert after == before


def test_a_price_drop_is_liquidated_and_a_kill_9_resumes(market, pushers, liquidator):
    chain = market
    first = Account.from_key(new_borrower(chain)).address
    wait_until(lambda: first in liquidator.state()["borrowers"], 30)
    liquidator.process.send_signal(signal.SIGKILL)
    liquidator.process.wait(30)
    second = Account.from_key(new_borrower(chain)).address  # borrows while it is down
    liquidator.start()
    wait_until(lambda: second in liquidator.state()["borrowers"], 30)

    pushers.write_prices(BTC="54000", USDT="1")  # health 0.75 * 54,000 / 41,900 = 0.967
    pushers.wait_for_price(BTC, 54_000 * UNIT)
    for borrower in (first, second):
        wait_until(lambda b=borrower: liquidations(chain, b), 60)
    wait_until(lambda: chain.pool.functions.health_factor(second).call() > 10**18, 30)
    for borrower in (first, second):
        [liquidation] = liquidations(chain, borrower)  # once: healthy afterwards
        assert liquidation["liquidator"] == liquidator.address
        assert (liquidation["debt_market"], liquidation["collateral_market"]) == (USDT, BTC)
        repaid, seized = liquidation["repaid"], liquidation["seized"]
        assert BORROW_USDT // 2 <= repaid <= BORROW_USDT // 2 + UNIT  # close factor 50%
        assert seized == repaid * UNIT * 10_500 // (10_000 * 54_000 * UNIT)  # bonus 5%
        assert chain.pool.functions.health_factor(borrower).call() > 10**18
    assert "liquidator: Liquidated" in liquidator.log_path.read_text()
    assert liquidator.state()["pending"] is None
    usdt = chain.contract("USDT", USDT_ADDRESS)
    assert usdt.functions.balanceOf(liquidator.address).call() < LIQUIDATOR_USDT


def test_a_restart_settles_the_transaction_it_recorded_before_anything_else(chain, liquidator):
    """Killed after recording a signed liquidation: started again, it waits for that one if
    the node has it, and forgets it if it never reached the node (nothing is sent twice)."""
    key = chain.accounts[0].private_key
    liquidator.process.send_signal(signal.SIGKILL)
    liquidator.process.wait(30)
    sent = Account.from_key(key).sign_transaction(
        {**chain.tx_fields(key, 0), "to": liquidator.address, "gas": 21_000}
    )
    lost = Account.from_key(key).sign_transaction(
        {**chain.tx_fields(key, 1), "to": liquidator.address, "gas": 21_000, "nonce": 10**6}
    )
    for signed, what in ((sent, "a sent one"), (lost, "a lost one")):
        state = liquidator.state()
        state["pending"] = {"tx_hash": "0x" + bytes(signed.hash).hex(), "what": what}
        liquidator.state_file.write_text(json.dumps(state))
        if signed is sent:
            chain.w3.eth.send_raw_transaction(signed.raw_transaction)
        liquidator.start()
        wait_until(lambda: liquidator.state()["pending"] is None, 60)
        liquidator.process.send_signal(signal.SIGKILL)
        liquidator.process.wait(30)
    log = liquidator.log_path.read_text()
    assert "a sent one done in block" in log
    assert "a lost one (0x" in log and "never reached the node; dropped" in log
    assert chain.accounts[0].private_key[2:] not in log  # no key in the log
    liquidator.start()
