"""A member stores an address a peer announces only as it derives it from its own federation
keys; a malformed announcement is refused whole."""

import pytest

from bridge.ledger import Ledger
from relayer.release_errors import BadPeerMessage
from relayer.signing import MAX_ANNOUNCED_ADDRESSES
from tests.relayer.withdrawals.conftest import Harness


def known(harness: Harness, address: str) -> bool:
    with harness.members[1].sessions() as session:
        return Ledger(session).deposit_addresses.get(address) is not None


async def test_an_announced_address_is_derived_here_and_stored_once(harness: Harness) -> None:
    member = harness.members[1].member
    recipient = "0x" + "4b" * 20
    expected = harness.deposit_script(recipient).address("regtest")
    assert not known(harness, expected)
    entry = {"recipient": recipient, "refund_pubkey": None, "refund_timeout": None}
    assert member.learn_addresses([entry]) == 1
    assert known(harness, expected)
    assert member.learn_addresses([entry]) == 0  # a second delivery stores nothing


@pytest.mark.parametrize(
    "announced",
    [
        "not a list",
        [{"refund_pubkey": None}],
        [{"recipient": "0x1234"}],
        [{"recipient": "0x" + "4c" * 20, "refund_pubkey": "02" + "00" * 32, "refund_timeout": 9}],
        [{"recipient": "0x" + "4d" * 20}] * (MAX_ANNOUNCED_ADDRESSES + 1),
    ],
)
async def test_a_malformed_announcement_is_refused_and_nothing_is_stored(
    harness: Harness, announced: object
) -> None:
    member = harness.members[1].member
    good = {"recipient": "0x" + "4e" * 20}
    batch = [good, *announced] if isinstance(announced, list) else announced
    with pytest.raises(BadPeerMessage):
        member.learn_addresses(batch)  # type: ignore[arg-type]
    assert not known(harness, harness.deposit_script(good["recipient"]).address("regtest"))
