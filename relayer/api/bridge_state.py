"""What the ledger says about the federation for the API: each member's liveness.

The pause flag is the ledger's (`ledger.pause`, bridge.ledger.pause), read by the relayers'
deposit loops and the API alike; solvency is relayer.audit's, the same as `sluice audit`.
Liveness of a member is a federation signature stored within `LIVE_WINDOW`.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from eth_keys import keys
from sqlalchemy import func, select

from bridge.ledger.ledger import Ledger
from bridge.ledger.models import FederationSignature
from bridge.ledger.pause import PauseState
from bridge.ledger.types import utcnow

LIVE_WINDOW = timedelta(minutes=10)


@dataclass(frozen=True)
class Member:
    public_key: str
    evm_address: str
    last_signature_at: datetime | None

    @property
    def live(self) -> bool:
        seen = self.last_signature_at
        return seen is not None and utcnow() - seen <= LIVE_WINDOW


def pause_state(ledger: Ledger) -> PauseState:
    """The ledger's pause flag (what routes/deposits.py and routes/ops.py read)."""
    return ledger.pause.state()


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
