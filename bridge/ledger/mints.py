"""The Bridge's mints as the deposit loop read them from the sidechain, one row per deposit id."""

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.ledger.deposits import MAX_SATS
from bridge.ledger.models import Deposit, SidechainMint
from bridge.ledger.states import Asset, DepositStatus
from bridge.ledger.types import check_amount, normalize_evm_address


class SidechainMintRepository:
    """Deposited events, kept even for deposits this ledger does not hold at the depth yet."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def record(
        self,
        *,
        deposit_id: str,
        asset: Asset,
        amount: int,
        recipient: str,
        tx_hash: str,
        block_number: int,
    ) -> SidechainMint:
        """Store a Deposited event; the same deposit id again returns the stored row (the
        Bridge mints a deposit id once, so a second event cannot differ)."""
        existing = self.get(deposit_id)
        if existing is not None:
            return existing
        row = SidechainMint(
            deposit_id=deposit_id.lower(),
            asset=Asset(asset),
            amount=check_amount("amount", amount, maximum=MAX_SATS),
            recipient=normalize_evm_address("recipient", recipient),
            tx_hash=tx_hash.lower(),
            block_number=block_number,
        )
        self._session.add(row)
        self._session.flush()
        return row

    def get(self, deposit_id: str) -> SidechainMint | None:
        return self._session.get(SidechainMint, deposit_id.lower())

    def awaiting(
        self, statuses: Iterable[DepositStatus] = (DepositStatus.CONFIRMED, DepositStatus.ATTESTED)
    ) -> Sequence[tuple[Deposit, SidechainMint]]:
        """Deposits in `statuses` whose mint is already recorded, oldest first."""
        query = (
            select(Deposit, SidechainMint)
            .join(SidechainMint, SidechainMint.deposit_id == Deposit.id)
            .where(Deposit.status.in_(list(statuses)))
            .order_by(Deposit.created_at, Deposit.id)
        )
        return [(row[0], row[1]) for row in self._session.execute(query).all()]
