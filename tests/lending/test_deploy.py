"""The deploy payloads place the lending contracts at their fixed addresses, wired together."""

from eth_utils import to_checksum_address

from lending.deploy import DEFAULT_MARKETS, MARKET_BTC
from sidechain.predeploys import BRIDGE_ADDRESS, USDT_ADDRESS

from .conftest import ADDRESSES, LENDING, MAX_DEVIATION_BPS, MAX_PRICE_AGE


def test_contracts_name_each_other(lending):
    pool, oracle, router = lending.pool, lending.oracle, lending.router
    assert [to_checksum_address(pool.call(name)) for name in ("oracle", "usdt")] == [
        to_checksum_address(LENDING.oracle),
        to_checksum_address(USDT_ADDRESS),
    ]
    assert to_checksum_address(pool.call("btc_vault")) == to_checksum_address(ADDRESSES.btc_vault)
    assert to_checksum_address(pool.call("usdt_vault")) == to_checksum_address(ADDRESSES.usdt_vault)
    assert to_checksum_address(pool.call("governance")) == lending.governance.address
    assert to_checksum_address(oracle.call("bridge")) == to_checksum_address(BRIDGE_ADDRESS)
    assert (oracle.call("max_age"), oracle.call("max_deviation_bps")) == (
        MAX_PRICE_AGE,
        MAX_DEVIATION_BPS,
    )
    assert to_checksum_address(router.call("pool")) == to_checksum_address(LENDING.pool)
    assert to_checksum_address(router.call("account_blueprint")) == to_checksum_address(
        LENDING.leverage_account_blueprint
    )


def test_markets_are_listed_with_the_default_configs(lending):
    for market, config in DEFAULT_MARKETS.items():
        assert lending.pool.call("markets", market) == config.as_tuple()
    assert lending.pool.call("indices", MARKET_BTC)[:2] == (10**27, 10**27)
