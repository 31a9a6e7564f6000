"""Lending contracts on the restaking harness: oracle, purse blueprint, pool and leverage router
at their fixed addresses beside Bridge, USDT and the vaults, with BTC and USDT markets (and
rsBTC, rsUSDT as collateral) listed by the governance key, all as genesis does it; prices
posted by the federation; helpers to move the block and the clock, fund accounts and post
prices."""

from dataclasses import dataclass

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from lending.deploy import MARKET_BTC, MARKET_USDT, LendingAddresses
from lending.oracle import PriceReport, quorum_signatures
from sidechain.contracts import load_artifact
from tests.restaking.conftest import (  # the shared harness and its fixtures
    ADDRESSES,
    WEI_PER_SAT,
    Contract,
    Evm,
    Result,
    address_of,
    advance,
    block_number,
    bridge,
    court,
    evm,
    federation,
    gas_used,
    genesis,
    mint_usdt,
    ok,
    operators,
    predeployed,
    restaking,
    usdt,
    users,
)
from tests.sidechain.contracts.conftest import (
    CHAIN_ID,
    GOVERNANCE_KEY,
    MAX_DEVIATION_BPS,
    MAX_PRICE_AGE,
)

__all__ = [
    "ADDRESSES",
    "MAX_DEVIATION_BPS",
    "MAX_PRICE_AGE",
    "WEI_PER_SAT",
    "Result",
    "advance",
    "block_number",
    "bridge",
    "court",
    "evm",
    "federation",
    "gas_used",
    "genesis",
    "mint_usdt",
    "operators",
    "predeployed",
    "restaking",
    "usdt",
    "users",
]

LENDING = LendingAddresses()
BTC_PRICE = 60_000 * 10**8
USDT_PRICE = 10**8
MAX_UINT = 2**256 - 1
ECRECOVER_ADDRESS = b"\x00" * 19 + b"\x01"


def timestamp(evm: Evm) -> int:
    return evm.state.execution_context.timestamp


def fingerprint(contract: Contract, views: list[tuple]) -> list:
    """The values of several views, to show a refused call changed nothing."""
    return [contract.call(name, *args) for name, *args in views]


@dataclass
class Lending:
    """The deployed lending contracts and the keys that drive them."""

    evm: Evm
    oracle: Contract
    pool: Contract
    router: Contract
    governance: LocalAccount
    signers: list[bytes]
    rounds: dict[int, int]

    def post_price(self, asset: int, price: int, keys: list[bytes] | None = None) -> Result:
        """Post a price signed by `keys` (default: the quorum) at the current time, next round."""
        self.rounds[asset] = self.rounds.get(asset, 0) + 1
        report = PriceReport(asset, price, timestamp(self.evm), self.rounds[asset])
        signatures = quorum_signatures(report, keys or self.signers, CHAIN_ID, LENDING.oracle)
        return self.oracle.transact(
            self.governance, "post", asset, price, report.timestamp, report.round, signatures
        )

    def supply(self, account: LocalAccount, market: int, amount: int) -> Result:
        value = amount * WEI_PER_SAT if market == MARKET_BTC else 0
        return self.pool.transact(account, "supply", market, amount, value=value)

    def repay(self, account: LocalAccount, market: int, amount: int) -> Result:
        value = amount * WEI_PER_SAT if market == MARKET_BTC else 0
        return self.pool.transact(account, "repay", market, amount, value=value)

    def liquidate(
        self, liquidator: LocalAccount, borrower: str, debt: int, collateral: int, amount: int
    ) -> Result:
        value = amount * WEI_PER_SAT if debt == MARKET_BTC else 0
        return self.pool.transact(
            liquidator, "liquidate", borrower, debt, collateral, amount, value=value
        )


@pytest.fixture
def lending(evm, usdt, restaking, federation, users) -> Lending:
    governance = Account.from_key(GOVERNANCE_KEY)
    # The ecrecover precompile holds 1 wei (as on mainnet), so touching it never deletes an
    # empty account: py-evm's delete inside a reverted snapshot breaks later examples.
    evm.state.set_balance(ECRECOVER_ADDRESS, 1)
    ok(evm.transact(users[0], address_of(governance), b"", value=10**21))
    deployed = Lending(
        evm=evm,
        oracle=Contract(evm, load_artifact("PriceOracle"), LENDING.oracle),
        pool=Contract(evm, load_artifact("LendingPool"), LENDING.pool),
        router=Contract(evm, load_artifact("LeverageRouter"), LENDING.leverage_router),
        governance=governance,
        signers=[m.key for m in federation.members[: federation.threshold]],
        rounds={},
    )
    ok(deployed.post_price(MARKET_BTC, BTC_PRICE))
    ok(deployed.post_price(MARKET_USDT, USDT_PRICE))
    for account in users:
        ok(usdt.transact(account, "approve", LENDING.pool, MAX_UINT))
    return deployed
