"""Repository of federation members' signatures over attestations, releases and commitments."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.ledger.errors import DuplicateRecord
from bridge.ledger.models import FederationSignature


class FederationSignatureRepository:
    """One signature per (subject kind, subject id, part, signer); storing it twice is a no-op."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(
        self, subject_kind: str, subject_id: str, signer: str, signature: bytes, *, part: int = 0
    ) -> FederationSignature:
        """Store a signature; `part` tells apart several under one subject (a release's inputs).

        Raises `DuplicateRecord` if the signer already signed that part with other bytes.
        """
        existing = self.find(subject_kind, subject_id, signer, part=part)
        if existing is not None:
            if existing.signature != signature:
                raise DuplicateRecord(
                    "federation_signature", f"{subject_kind}:{subject_id}:{part}:{signer}"
                )
            return existing
        row = FederationSignature(
            subject_kind=subject_kind,
            subject_id=subject_id,
            part=part,
            signer=signer.lower(),
            signature=signature,
        )
        self._session.add(row)
        self._session.flush()
        return row

    def find(
        self, subject_kind: str, subject_id: str, signer: str, *, part: int = 0
    ) -> FederationSignature | None:
        query = select(FederationSignature).where(
            FederationSignature.subject_kind == subject_kind,
            FederationSignature.subject_id == subject_id,
            FederationSignature.part == part,
            FederationSignature.signer == signer.lower(),
        )
        return self._session.scalars(query).one_or_none()

    def for_subject(self, subject_kind: str, subject_id: str) -> Sequence[FederationSignature]:
        """All signatures over a subject, by part then signer."""
        query = select(FederationSignature).where(
            FederationSignature.subject_kind == subject_kind,
            FederationSignature.subject_id == subject_id,
        )
        order = (FederationSignature.part, FederationSignature.signer)
        return self._session.scalars(query.order_by(*order)).all()

    def signers(self, subject_kind: str, subject_id: str, *, part: int = 0) -> set[str]:
        return {
            row.signer for row in self.for_subject(subject_kind, subject_id) if row.part == part
        }
