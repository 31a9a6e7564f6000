"""What the ledger says about the bridge: the pause flag, members' liveness, lag, solvency.

The pause flag lives in the ledger's `cursors` table under `PAUSE_CURSOR` (position 1 =
paused, 0 = running, tag = the reason), and every change is appended to the audit log
(record kind `bridge`), so relayers see it and the event stream reports it. Liveness of a
member is a federation signature stored within `LIVE_WINDOW`.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from eth_keys import keys
from sqlalchemy import func, select

from bridge.ledger.ledger import Ledger
from bridge.ledger.models import FederationSignature
from bridge.ledger.states import Asset, DepositStatus, WithdrawalStatus
from bridge.ledger.types import utcnow

PAUSE_CURSOR = "bridge.paused"
MAX_REASON_CHARS = 200
LIVE_WINDOW = timedelta(minutes=10)
PAID_OUT = (WithdrawalStatus.RELEASED, WithdrawalStatus.CONFIRMED)
IN_FLIGHT = (
    WithdrawalStatus.REQUESTED,
    WithdrawalStatus.WINDOW_OPEN,
    WithdrawalStatus.CHALLENGED,
    WithdrawalStatus.READY,
    WithdrawalStatus.RELEASING,
)


@dataclass(frozen=True)
class PauseState:
    paused: bool
    reason: str | None
    since: datetime | None


@dataclass(frozen=True)
class Member:
    public_key: str
    evm_address: str
    last_signature_at: datetime | None

    @property
    def live(self) -> bool:
        seen = self.last_signature_at
        return seen is not None and utcnow() - seen <= LIVE_WINDOW


@dataclass(frozen=True)
class AssetBalance:
    """Ledger figures in Bitcoin base units: the sidechain should hold `expected_supply`."""

    asset: Asset
    deposited: int
    paid_out: int
    in_flight: int

    @property
    def expected_supply(self) -> int:
        return self.deposited - self.paid_out - self.in_flight


def pause_state(ledger: Ledger) -> PauseState:
    cursor = ledger.cursors.get(PAUSE_CURSOR)
    if cursor is None or cursor.position == 0:
        return PauseState(False, None, None if cursor is None else cursor.updated_at)
    return PauseState(True, cursor.tag, cursor.updated_at)


def set_paused(ledger: Ledger, paused: bool, reason: str | None) -> PauseState:
    """Store the flag and audit the change (a no-op change is still audited: who asked)."""
    ledger.cursors.set(PAUSE_CURSOR, int(paused), tag=reason if paused else None)
    ledger.audit.append(
        "bridge", "bridge", "paused" if paused else "resumed", detail={"reason": reason}
    )
    return pause_state(ledger)


def member_address(public_key: str) -> str:
    """The EVM address of a member's compressed secp256k1 key (its sidechain identity)."""
    return keys.PublicKey.from_compressed_bytes(bytes.fromhex(public_key)).to_address()


def members(ledger: Ledger, public_keys: tuple[str, ...]) -> list[Member]:
    """The configured federation with each member's latest signature (by key or address)."""
    latest = dict(
        ledger.session.execute(
            select(FederationSignature.signer, func.max(FederationSignature.created_at)).group_by(
                FederationSignature.signer
            )
        ).all()
    )
    result = []
    for public_key in public_keys:
        address = member_address(public_key)
        seen = [at for at in (latest.get(public_key.lower()), latest.get(address)) if at]
        result.append(Member(public_key.lower(), address, max(seen) if seen else None))
    return result


def balances(ledger: Ledger) -> list[AssetBalance]:
    return [
        AssetBalance(
            asset=asset,
            deposited=ledger.deposits.total_amount(asset, [DepositStatus.MINTED]),
            paid_out=ledger.withdrawals.total_amount(asset, PAID_OUT),
            in_flight=ledger.withdrawals.total_amount(asset, IN_FLIGHT),
        )
        for asset in Asset
    ]
