"""A stuck release is replaced by fee (and the replaced one recorded); state roots are anchored
and then recorded on the sidechain, where the court opens their fraud-proof window (mirrored
into the ledger); the solvency audit accounts for the fees of both spends (they come out of
the fee reserve)."""

from bridge.bitcoin.errors import BitcoinRPCError
from bridge.ledger import Asset, ClaimKind, CommitmentStatus, Ledger, ReleaseStatus, WindowClock
from regtest.util import wait_until
from relayer.court_mirror import CourtMirror
from relayer.release_check import decode_commitment
from sidechain.genesis import DEV_RESTAKING
from tests.relayer.support import RELEASED
from tests.relayer.withdrawals.conftest import COMMITMENT_INTERVAL, Harness, settle


async def test_a_stuck_release_is_bumped_by_rbf_and_the_replaced_one_is_recorded(
    harness: Harness,
) -> None:
    harness.fund_vault_btc("0.2", harness.users[1])
    address = harness.bitcoind.new_address()
    withdrawal_id = harness.withdraw(harness.users[6], Asset.BTC, 55_555, address)

    def replaced() -> list[tuple[str, str, int, int]]:
        with harness.members[0].sessions() as session:
            ledger = Ledger(session)
            return [
                (
                    r.txid,
                    r.replaced_by or "",
                    r.fee_rate,
                    ledger.releases.require(r.replaced_by).fee_rate,
                )
                for r in ledger.releases.with_status(ReleaseStatus.REPLACED)
                if withdrawal_id in {w.id for w in ledger.releases.withdrawals(r.txid)}
            ]

    # Empty blocks: the release sits in the mempool until the coordinator bumps it.
    await settle(harness, lambda: bool(replaced()), steps=20, empty=True)
    ((old_txid, new_txid, old_rate, new_rate),) = replaced()
    assert new_rate > old_rate
    mempool = harness.bitcoind.getrawmempool()
    assert new_txid in mempool and old_txid not in mempool

    def paid_by_replacement() -> bool:
        return harness.bridge.status(withdrawal_id) == (RELEASED, new_txid)

    await settle(harness, paid_by_replacement, steps=20)
    tx = harness.bitcoind.getrawtransaction(new_txid, True)
    assert any(o["scriptPubKey"].get("address") == address for o in tx["vout"])
    try:
        gone = harness.bitcoind.getrawtransaction(old_txid, True).get("confirmations", 0) == 0
    except BitcoinRPCError:
        gone = True
    assert gone, "the replaced release was mined"
    await assert_solvent(harness)


async def test_a_state_commitment_is_anchored_and_decodes_back(harness: Harness) -> None:
    harness.fund_vault_btc("0.1", harness.users[2])
    wait_until(lambda: int(harness.node.rpc("eth_blockNumber"), 16) >= COMMITMENT_INTERVAL)
    coordinator = harness.coordinator()
    assert await coordinator.commitments.execute()
    with coordinator.sessions() as session:
        row = Ledger(session).commitments.latest()
        assert row is not None and row.status == CommitmentStatus.BROADCAST
        height, root, txid = row.sidechain_height, row.state_root, row.bitcoin_txid

    def confirmed() -> bool:
        with coordinator.sessions() as session:
            latest = Ledger(session).commitments.require(height)
            return latest.status == CommitmentStatus.CONFIRMED

    await settle(harness, confirmed, steps=10)
    tx = harness.bitcoind.getrawtransaction(txid, True)
    decoded = [decode_commitment(bytes.fromhex(o["scriptPubKey"]["hex"])) for o in tx["vout"]]
    (anchored,) = [d for d in decoded if d is not None]
    block = harness.node.rpc("eth_getBlockByNumber", hex(height), False)
    assert anchored == (height, bytes.fromhex(block["stateRoot"][2:]))
    assert "0x" + anchored[1].hex() == root
    recorder = harness.coordinator()
    assert await recorder.commitments.record()
    assert harness.bridge.contract.functions.commitments(height).call().hex() == root[2:]
    assert not await recorder.commitments.record()  # recorded once
    mirror = CourtMirror(recorder.sessions, recorder.node)
    while await mirror.execute():
        pass
    with recorder.sessions() as session:
        claims = Ledger(session).claims.for_subject(ClaimKind.STATE_COMMITMENT, str(height))
        signers = sorted(claim.operator for claim in claims)
        assert len(signers) >= 2 and recorder.keys.address in signers
        assert len({claim.court_claim_id for claim in claims}) == 1
        for claim in claims:
            assert claim.clock == WindowClock.SIDECHAIN
            window = claim.closes_at_height - claim.opened_at_height
            assert window == DEV_RESTAKING.params.claim_window
    await assert_solvent(harness)


async def assert_solvent(harness: Harness) -> None:
    """The invariant holds, and the reserve paid every fee: top-ups + USDT deposit sats less
    what the confirmed and broadcast spends paid in fees and carried out."""
    btc, usdt = await harness.audit()
    report = "\n".join(btc.lines() + usdt.lines())
    assert btc.holds and usdt.holds, report
    terms = dict(btc.terms)
    assert terms["fee reserve: - fees of federation spends"] > 0, report
    assert btc.fee_reserve == (
        terms["fee reserve: + top-ups to the change address"]
        + terms["fee reserve: + sats of USDT deposit outputs"]
        - terms["fee reserve: - fees of federation spends"]
        - terms["fee reserve: - sats carried out by USDT payouts"]
    )
