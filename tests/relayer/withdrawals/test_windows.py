"""A request's window closing while a fraud-proof challenge is pending: the request waits for
the court's vote, then goes `ready` whatever the verdict."""

from pathlib import Path

from bridge.ledger import ChallengeStatus, Ledger, WithdrawalStatus, ledger_sessions
from bridge.ledger.testing import CHALLENGER, claim, sqlite_ledger, withdrawal
from relayer.withdrawals import close_windows


def test_a_pending_challenge_holds_closed_windows_until_the_vote(tmp_path: Path) -> None:
    with ledger_sessions(sqlite_ledger(tmp_path)).begin() as session:
        ledger = Ledger(session)
        disputed = claim(ledger)
        challenge = ledger.challenges.submit(
            claim_id=disputed.id, challenger=CHALLENGER, bond=10**15, evidence={}
        )
        held, later = withdrawal(ledger), withdrawal(ledger)
        ledger.withdrawals.open_window(held.id, opened_at=100, closes_at=102)
        ledger.withdrawals.open_window(later.id, opened_at=101, closes_at=110)

        close_windows(ledger, 105)
        assert ledger.withdrawals.require(held.id).status == WithdrawalStatus.CHALLENGED
        assert ledger.withdrawals.require(later.id).status == WithdrawalStatus.WINDOW_OPEN

        ledger.challenges.resolve(challenge.id, ChallengeStatus.FAILED)
        close_windows(ledger, 106)
        assert ledger.withdrawals.require(held.id).status == WithdrawalStatus.READY
        assert ledger.withdrawals.require(later.id).status == WithdrawalStatus.WINDOW_OPEN
        close_windows(ledger, 110)
        assert ledger.withdrawals.require(later.id).status == WithdrawalStatus.READY
