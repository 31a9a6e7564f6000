"""GET /v1/markets and GET /v1/positions/{address} over a real `sluice node run` (prices posted
by the dev federation, USDT supplied, BTC collateral and a USDT loan), checked against the
pool's own views at the answer's block; a bad address is a 400 in the one error shape, a node
down a 503; the explorer page shows the markets table and looks a position up."""

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from eth_account import Account

from bridge.ledger.testing import sqlite_ledger
from lending.deploy import DEFAULT_MARKETS
from lending.oracle import PriceReport, quorum_signatures
from lending.pool_model import MAX_UINT
from sidechain.genesis import DEV_CHAIN_ID
from sidechain.predeploys import ORACLE_ADDRESS, USDT_ADDRESS
from tests.lending.stack import WEI_PER_SAT, LendingNode, mint_usdt
from tests.relayer.api.devtools import chromium_page
from tests.relayer.api.support import get_json, make_config, serve
from tests.support.node import NodeProcess, init_dev

pytestmark = pytest.mark.xdist_group("lending-api")
UNIT = 10**8
BTC_PRICE = 60_000 * UNIT
BORROWED = 30_000 * UNIT


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LendingNode]:
    node = NodeProcess(init_dev(tmp_path_factory.mktemp("node")), block_interval=0.5)
    node.start()
    try:
        lending = LendingNode(node)
        post_prices(lending)
        yield lending
    finally:
        node.stop()


def post_prices(chain: LendingNode) -> None:
    now = chain.w3.eth.get_block("latest")["timestamp"]
    keys = [member.private_key for member in chain.members[:2]]
    for asset, price in ((0, BTC_PRICE), (1, UNIT)):
        report = PriceReport(asset, price, now, 1)
        signatures = quorum_signatures(report, keys, DEV_CHAIN_ID, ORACLE_ADDRESS)
        call = chain.oracle.functions.post(asset, price, now, 1, signatures)
        chain.ok(chain.accounts[0].private_key, call)


@pytest.fixture(scope="module")
def borrower(chain: LendingNode) -> str:
    """USDT supplied by one account; another supplies 1 BTC and borrows 30,000 USDT."""
    supplier = chain.accounts[1]
    mint_usdt(chain, supplier.address, 100_000 * UNIT)
    usdt = chain.contract("USDT", USDT_ADDRESS)
    chain.ok(supplier.private_key, usdt.functions.approve(chain.pool.address, MAX_UINT))
    chain.ok(supplier.private_key, chain.pool.functions.supply(1, 100_000 * UNIT))
    key = chain.accounts[2].private_key
    chain.ok(key, chain.pool.functions.supply(0, UNIT), UNIT * WEI_PER_SAT)
    chain.ok(key, chain.pool.functions.borrow(1, BORROWED))
    return str(Account.from_key(key).address)


@pytest.fixture
async def client(chain: LendingNode, tmp_path: Path) -> AsyncIterator[TestClient]:
    sqlite_ledger(tmp_path).dispose()
    config = make_config(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    config = replace(config, api=replace(config.api, node_rpc_url=chain.node.url))
    served = await serve(config)
    yield served
    await served.close()


async def test_markets_show_prices_rates_caps_and_risk(chain, borrower, client):
    status, body = await get_json(client, "/v1/markets")
    assert status == 200
    block = body["block"]
    markets = body["markets"]
    assert [m["name"] for m in markets] == ["BTC", "USDT", "rsBTC", "rsUSDT"]
    assert [m["borrowable"] for m in markets] == [True, True, False, False]
    for market in markets:
        config = DEFAULT_MARKETS[market["id"]]
        assert market["ltv_bps"] == config.ltv_bps
        assert market["liquidation_threshold_bps"] == config.liquidation_threshold_bps
        assert market["liquidation_bonus_bps"] == config.liquidation_bonus_bps
        assert market["caps"] == {"supply": None, "borrow": None}
        expected = BTC_PRICE if market["asset"] == "BTC" else UNIT
        assert market["price"]["price"] == expected and market["price"]["stale"] is False
    usdt = markets[1]
    pool = chain.pool.functions
    utilisation, borrow_rate, supply_rate = pool.rates(1).call(block_identifier=block)
    assert usdt["rates"]["utilisation"] == {"ray": str(utilisation), "bps": utilisation // 10**23}
    assert usdt["rates"]["borrow_rate"]["ray"] == str(borrow_rate)
    assert usdt["rates"]["supply_rate"]["ray"] == str(supply_rate)
    assert usdt["totals"]["supplied"] == pool.total_supplied(1).call(block_identifier=block)
    assert usdt["totals"]["borrowed"] == pool.total_borrowed(1).call(block_identifier=block)
    assert usdt["totals"]["borrowed"] >= BORROWED
    assert markets[2]["rates"] is None and markets[2]["totals"] is None


async def test_a_position_shows_collateral_debt_health_and_liquidation_price(
    chain, borrower, client
):
    status, body = await get_json(client, f"/v1/positions/{borrower.lower()}")
    assert status == 200
    block = body["block"]
    pool = chain.pool.functions
    assert body["address"] == borrower
    assert body["markets"][0] == {"id": 0, "collateral": UNIT, "debt": 0}
    assert body["markets"][1]["debt"] == pool.debt_balance(1, borrower).call(block_identifier=block)
    factor = pool.health_factor(borrower).call(block_identifier=block)
    assert body["health_factor"] == f"{factor // 10**18}.{factor % 10**18:018d}"
    power, weighted, debt = pool.position(borrower).call(block_identifier=block)
    assert (body["borrow_power"], body["weighted_collateral"], body["debt_value"]) == (
        power,
        weighted,
        debt,
    )
    btc = body["liquidation_prices"][0]
    assert btc["asset"] == "BTC" and btc["when"] == "falls to"
    assert 40_000 * UNIT <= btc["price"] <= 40_001 * UNIT  # 0.75 * 40,000 = 30,000 (+ interest)
    assert body["liquidatable"] is False and body["leverage_account"] is None

    status, body = await get_json(client, f"/v1/positions/{Account.create().address}")
    assert body["health_factor"] is None and body["liquidation_prices"] == []


async def test_a_bad_address_is_a_400_and_a_node_down_a_503(client, tmp_path):
    for path, field in (
        ("/v1/positions/0x1234", "address"),
        ("/v1/positions/0x" + "zz" * 20, "address"),
        ("/v1/markets?market=1", "market"),
    ):
        status, body = await get_json(client, path)
        assert status == 400, body
        assert body["error"]["code"] == "invalid_parameter"
        assert body["error"]["field"] == field
    down = await serve(make_config(f"sqlite:///{tmp_path / 'ledger.sqlite3'}"))  # no node
    try:
        status, body = await get_json(down, "/v1/markets")
    finally:
        await down.close()
    assert status == 503 and body["error"]["code"] == "upstream_unavailable"


async def test_the_explorer_shows_markets_and_looks_a_position_up(borrower, client, tmp_path):
    async with chromium_page(str(client.make_url("/")), tmp_path / "profile") as page:
        rows = "[...document.querySelectorAll('#markets tbody tr')].map(r => r.innerText)"
        markets = await page.wait_for(f"{rows}.length === 4 && {rows}")
        assert "60000 USD" in markets[0] and "70.00% / 75.00% / 5.00%" in markets[0]
        assert "rsBTC (collateral only)" in markets[2]
        await page.type_into("position-address", "0x12")
        await page.click("lookup-position")
        error = await page.wait_for("document.getElementById('position-error').textContent")
        assert "address" in error
        await page.evaluate("document.getElementById('position-address').value = ''")
        await page.type_into("position-address", borrower)
        await page.click("lookup-position")
        await page.wait_for("!document.getElementById('position-result').hidden")
        assert (await page.text("position-health")).startswith("1.50")
        assert "when BTC falls to 400" in await page.text("position-liquidation")
        assert "1 BTC" in await page.text("position-markets")
