"""A Bitcoin reorg deeper than the confirmation depth after a mint: deposits pause, the logs and
the ledger say so, nothing more is attested, and `sluice audit` reports the minted deposit
Bitcoin no longer holds. This module has a stack of its own: the bridge stays insolvent."""

import pytest

from bridge.ledger import DepositStatus
from regtest.node import BitcoindNode
from regtest.util import wait_until
from relayer.testing import FederationRig, pay_btc
from sidechain.system_tx import WEI_PER_SAT
from tests.relayer.deposits.conftest import DEPTH, credited, make_deposits, new_recipient, reorg_out

pytestmark = pytest.mark.xdist_group("relayer-deep-reorg")
AMOUNT = 80_000


def test_a_reorg_deeper_than_the_depth_after_a_mint_pauses_deposits(
    chain: BitcoindNode, federation: FederationRig
) -> None:
    recipient = new_recipient()
    txid = pay_btc(chain, {federation.register_address(recipient): AMOUNT})
    chain.mine(DEPTH)
    federation.wait_until(lambda: federation.balance_wei(recipient) == AMOUNT * WEI_PER_SAT)
    minted = {f"{txid}:{vout}" for vout in range(2)} & set(federation.statuses(1))
    for member in (1, 2, 3):  # every member holds the mint before the chain turns
        federation.wait_until(lambda m=member: federation.minted_in_ledger(m, minted))
    reorg_out(chain, txid, new_blocks=DEPTH + 2)
    for member in (1, 2, 3):

        def paused(m: int = member) -> bool:
            state = federation.read(m, lambda ledger: ledger.pause.state())
            return state.paused and "reorg" in (state.reason or "")

        federation.wait_until(paused)
        assert "deposits paused: Bitcoin reorg to height" in federation.relayer(member).log_text()
    later = make_deposits(chain, federation, 1, 0, 0)
    chain.mine(DEPTH)

    def confirmed() -> list[str]:
        return [i for i, s in federation.statuses(1).items() if s is DepositStatus.CONFIRMED]

    federation.wait_until(lambda: len(confirmed()) == 1)
    # A few steps of every member (their scanners see two more blocks): nothing is attested.
    for _ in range(2):
        (block,) = chain.mine(1)
        height = int(chain.getblockheader(block)["height"])
        wait_until(lambda h=height: federation.handled(h), 60)
    assert all(credited(federation, r, "BTC") == 0 for r in later)
    assert len(confirmed()) == 1

    status, report = federation.audit(1)
    assert status == 1
    assert report["BTC"]["holds"] is False and report["BTC"]["unbacked"] == AMOUNT, report
    assert report["USDT"]["holds"] is True
