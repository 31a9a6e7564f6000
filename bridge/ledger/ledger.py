"""`Ledger`: every repository over one session, so a loop or handler needs one object."""

from sqlalchemy.orm import Session

from bridge.ledger.audit import AuditLog
from bridge.ledger.chain import BitcoinBlockRepository, CursorRepository
from bridge.ledger.claims import ChallengeRepository, ClaimRepository, StateCommitmentRepository
from bridge.ledger.deposits import DepositAddressRepository, DepositRepository
from bridge.ledger.mints import SidechainMintRepository
from bridge.ledger.pause import PauseRepository
from bridge.ledger.signatures import FederationSignatureRepository
from bridge.ledger.withdrawals import ReleaseRepository, WithdrawalRepository


class Ledger:
    """The repositories bound to `session`; the caller begins and commits the transaction.

    with sessions.begin() as session:
        ledger = Ledger(session)
        ledger.deposits.record_seen(...)
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.deposit_addresses = DepositAddressRepository(session)
        self.deposits = DepositRepository(session)
        self.withdrawals = WithdrawalRepository(session)
        self.releases = ReleaseRepository(session)
        self.claims = ClaimRepository(session)
        self.challenges = ChallengeRepository(session)
        self.commitments = StateCommitmentRepository(session)
        self.blocks = BitcoinBlockRepository(session)
        self.cursors = CursorRepository(session)
        self.pause = PauseRepository(session)
        self.mints = SidechainMintRepository(session)
        self.signatures = FederationSignatureRepository(session)
        self.audit = AuditLog(session)
