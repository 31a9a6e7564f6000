"""Attestations collected per deposit, and the deposit transactions they justify.

A federation member's attestation is checked (signer recovered and in the federation, deposit
not yet minted) and kept, in memory and in the store, so a restart loses none. Once `threshold`
distinct members signed the same deposit (same txid, vout, asset, amount, recipient), the
producer takes a `DepositTransaction` carrying their signatures ordered by signer address.

Stored in the `chain` database as b"A" + txid + vout (4 bytes) + digest + signer ->
RLP [asset, amount, recipient, signature], where digest is the EIP-712 hash the member signed:
two different attestations one member made for one output are two records, kept apart across
a restart (the Bridge mints at most one of them).
"""

import rlp
from eth_typing import Address

from sidechain.attestation import Attestation, attestation_digest, recover_attester
from sidechain.chaindata import ChainData
from sidechain.errors import AlreadyMinted, NotAFederationMember
from sidechain.genesis import Genesis
from sidechain.predeploys import BRIDGE_ADDRESS
from sidechain.store import Store
from sidechain.system_tx import DepositTransaction
from sidechain.views import AttestationStatus

_PREFIX = b"A"
_DIGEST_AT = 1 + 32 + 4
_SIGNER_AT = _DIGEST_AT + 32


class DepositPool:
    """Signatures by attestation; an attestation with a quorum becomes a deposit transaction."""

    def __init__(self, genesis: Genesis, chain: ChainData, store: Store) -> None:
        self._members = frozenset(genesis.federation)
        self._threshold = genesis.threshold
        self._chain_id = genesis.chain_id
        self._chain = chain
        self._store = store
        self._signatures: dict[Attestation, dict[Address, bytes]] = {}
        self._load()

    def _key(self, attestation: Attestation, signer: Address) -> bytes:
        digest = attestation_digest(attestation, self._chain_id, BRIDGE_ADDRESS)
        return _PREFIX + attestation.txid + attestation.vout.to_bytes(4, "big") + digest + signer

    def _load(self) -> None:
        for key, value in self._store.chain_items(_PREFIX):
            txid, vout = key[1:33], int.from_bytes(key[33:_DIGEST_AT], "big")
            signer = Address(key[_SIGNER_AT:])
            asset, amount, recipient, signature = rlp.decode(value)
            attestation = Attestation(
                txid, vout, int.from_bytes(asset, "big"), int.from_bytes(amount, "big"), recipient
            )
            if not self._chain.is_minted(txid, vout):
                self._signatures.setdefault(attestation, {})[signer] = signature

    def add(self, attestation: Attestation, signature: bytes) -> AttestationStatus:
        """Check and keep one signature; raises `MalformedAttestation`, `NotAFederationMember`
        or `AlreadyMinted`."""
        signer = recover_attester(attestation, signature, self._chain_id, BRIDGE_ADDRESS)
        if signer not in self._members:
            raise NotAFederationMember(signer)
        if self._chain.is_minted(attestation.txid, attestation.vout):
            raise AlreadyMinted(attestation.deposit_id)
        signers = self._signatures.setdefault(attestation, {})
        if signer not in signers:
            signers[signer] = signature
            record = rlp.encode(
                [attestation.asset, attestation.amount, attestation.recipient, signature]
            )
            self._store.commit({}, {self._key(attestation, signer): record})
        return self.status(attestation)

    def status(self, attestation: Attestation) -> AttestationStatus:
        minted = self._chain.minted_by(attestation.txid, attestation.vout)
        return AttestationStatus(
            deposit_id=attestation.deposit_id,
            signers=tuple(sorted(self._signatures.get(attestation, {}))),
            threshold=self._threshold,
            included_in=minted,
        )

    def ready(self) -> bool:
        return any(len(signers) >= self._threshold for signers in self._signatures.values())

    def take(self) -> list[DepositTransaction]:
        """Deposit transactions for every attestation with a quorum and not yet minted."""
        txs = []
        for attestation, signers in self._signatures.items():
            if len(signers) < self._threshold:
                continue
            if self._chain.is_minted(attestation.txid, attestation.vout):
                continue
            txs.append(
                DepositTransaction(
                    txid=attestation.txid,
                    vout=attestation.vout,
                    asset=attestation.asset,
                    amount=attestation.amount,
                    recipient=Address(attestation.recipient),
                    signatures=tuple(signers[s] for s in sorted(signers)),
                )
            )
        return txs

    def settle(self, included: list[DepositTransaction]) -> None:
        """Forget deposits that a committed block carried, minted or refused by the Bridge:
        a refused deposit would be refused again."""
        done = {(tx.txid, tx.vout) for tx in included}
        stale = []
        for attestation in [a for a in self._signatures if (a.txid, a.vout) in done]:
            stale.extend(self._key(attestation, signer) for signer in self._signatures[attestation])
            del self._signatures[attestation]
        if stale:
            self._store.commit({}, {}, stale)
