"""Amounts are ints in base units and come back exactly, up to 21e6 BTC in wei and beyond."""

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from bridge.ledger import InvalidAmount, Ledger
from bridge.ledger.testing import challenge, deposit, withdrawal

ALL_BITCOIN_IN_WEI = 21_000_000 * 10**18  # 2.1e25: more than a float can hold exactly
LARGEST_BIGINT = 2**63 - 1


@pytest.mark.parametrize(
    "wei",
    [0, 1, ALL_BITCOIN_IN_WEI, ALL_BITCOIN_IN_WEI + 1, 2**256 - 1],
    ids=["zero", "one", "all-btc", "all-btc-plus-one", "uint256-max"],
)
def test_wei_amounts_round_trip_exactly(sessions: sessionmaker[Session], wei: int) -> None:
    with sessions() as session:
        ledger = Ledger(session)
        burned = withdrawal(ledger, burned=wei).id
        bonded = challenge(ledger, bond=wei).id
        session.commit()
    with sessions() as session:
        ledger = Ledger(session)
        stored_burn = ledger.withdrawals.require(burned).burned_amount
        stored_bond = ledger.challenges.require(bonded).bond
    assert (stored_burn, stored_bond) == (wei, wei)
    assert type(stored_burn) is int and type(stored_bond) is int


def test_satoshi_amounts_round_trip_exactly_up_to_the_largest_bigint(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        ledger = Ledger(session)
        ids = [
            deposit(ledger, amount=amount).id
            for amount in (1, 2_100_000_000_000_000, LARGEST_BIGINT)
        ]
        session.commit()
    with sessions() as session:
        ledger = Ledger(session)
        amounts = [ledger.deposits.require(i).amount for i in ids]
    assert amounts == [1, 2_100_000_000_000_000, LARGEST_BIGINT]


def test_wei_is_stored_as_exact_digits_not_floating_point(
    sessions: sessionmaker[Session], ledger_backend: str
) -> None:
    with sessions() as session:
        withdrawal(Ledger(session), burned=ALL_BITCOIN_IN_WEI + 1)
        session.commit()
        raw = session.execute(text("SELECT burned_amount FROM withdrawals")).scalar_one()
        kind = session.execute(
            text(
                "SELECT typeof(burned_amount) FROM withdrawals"
                if ledger_backend == "sqlite"
                else "SELECT pg_typeof(burned_amount)::text FROM withdrawals"
            )
        ).scalar_one()
    assert int(raw) == ALL_BITCOIN_IN_WEI + 1
    assert kind == ("text" if ledger_backend == "sqlite" else "numeric")


@pytest.mark.parametrize(
    "bad", [1e18, -5, 2**256, "10"], ids=["float", "negative", "too-big", "string"]
)
def test_a_wei_amount_that_is_not_a_uint256_int_is_refused(session: Session, bad: object) -> None:
    with pytest.raises(InvalidAmount, match="burned_amount"):
        withdrawal(Ledger(session), burned=bad)  # type: ignore[arg-type]
