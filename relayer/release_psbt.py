"""A minimal BIP174 PSBT for federation spends: unsigned tx, witness UTXO, witness script, sigs.

python-bitcoinlib 0.12 has no PSBT class and bitcoind cannot take partial signatures made
outside its wallet, so Sluice encodes the subset it needs itself (bitcoind's `decodepsbt`
reads the result, which the tests check). Per input: PSBT_IN_WITNESS_UTXO (0x01),
PSBT_IN_PARTIAL_SIG (0x02), PSBT_IN_WITNESS_SCRIPT (0x05); outputs carry no fields.
"""

import base64
import io
from dataclasses import dataclass, field, replace

from bitcoin.core import CTransaction, CTxOut
from bitcoin.core.serialize import BytesSerializer, DeserializationExtraDataError, VarIntSerializer

from relayer.release_errors import BadPeerMessage

MAGIC = b"psbt\xff"
GLOBAL_UNSIGNED_TX = 0x00
IN_WITNESS_UTXO = 0x01
IN_PARTIAL_SIG = 0x02
IN_WITNESS_SCRIPT = 0x05
MAX_PSBT_BYTES = 400_000  # a standard transaction is at most 100k vbytes; this is ample


@dataclass(frozen=True)
class PsbtInput:
    """What a signer needs for one input: the coin spent, its script, the signatures so far."""

    witness_utxo: CTxOut
    witness_script: bytes
    partial_sigs: dict[bytes, bytes] = field(default_factory=dict)  # pubkey -> DER + sighash


@dataclass(frozen=True)
class Psbt:
    tx: CTransaction  # without witnesses
    inputs: tuple[PsbtInput, ...]

    def __post_init__(self) -> None:
        if len(self.inputs) != len(self.tx.vin):
            raise BadPeerMessage(f"psbt has {len(self.inputs)} input maps for {len(self.tx.vin)}")

    @property
    def txid(self) -> str:
        return self.tx.GetTxid()[::-1].hex()

    def with_signatures(self, signatures: dict[int, dict[bytes, bytes]]) -> "Psbt":
        """A copy with {input index: {pubkey: signature}} added to the inputs' partial sigs."""
        inputs = tuple(
            replace(entry, partial_sigs={**entry.partial_sigs, **signatures.get(index, {})})
            for index, entry in enumerate(self.inputs)
        )
        return Psbt(self.tx, inputs)

    def serialize(self) -> bytes:
        out = io.BytesIO()
        out.write(MAGIC)
        _pair(out, bytes([GLOBAL_UNSIGNED_TX]), self.tx.serialize())
        out.write(b"\x00")
        for entry in self.inputs:
            _pair(out, bytes([IN_WITNESS_UTXO]), entry.witness_utxo.serialize())
            for pubkey, signature in sorted(entry.partial_sigs.items()):
                _pair(out, bytes([IN_PARTIAL_SIG]) + pubkey, signature)
            _pair(out, bytes([IN_WITNESS_SCRIPT]), entry.witness_script)
            out.write(b"\x00")
        out.write(b"\x00" * len(self.tx.vout))
        return out.getvalue()

    def to_base64(self) -> str:
        return base64.b64encode(self.serialize()).decode()

    @classmethod
    def from_base64(cls, text: str) -> "Psbt":
        if len(text) > MAX_PSBT_BYTES * 4 // 3 + 4:
            raise BadPeerMessage(f"psbt of {len(text)} base64 characters is over the limit")
        try:
            return cls.parse(base64.b64decode(text, validate=True))
        except ValueError as error:
            raise BadPeerMessage(f"psbt is not valid base64: {error}") from error

    @classmethod
    def parse(cls, data: bytes) -> "Psbt":
        if not data.startswith(MAGIC):
            raise BadPeerMessage("psbt does not start with the magic bytes")
        stream = io.BytesIO(data[len(MAGIC) :])
        try:
            global_map = _read_map(stream)
            raw_tx = global_map.get(bytes([GLOBAL_UNSIGNED_TX]))
            if raw_tx is None or len(global_map) != 1:
                raise BadPeerMessage("psbt global map must hold exactly the unsigned transaction")
            tx = CTransaction.deserialize(raw_tx)
            inputs = tuple(_input(_read_map(stream)) for _ in tx.vin)
            for _ in tx.vout:
                if _read_map(stream):
                    raise BadPeerMessage("psbt output maps must be empty")
        except (DeserializationExtraDataError, ValueError, IndexError) as error:
            raise BadPeerMessage(f"psbt does not decode: {error}") from error
        if stream.read(1):
            raise BadPeerMessage("psbt has trailing bytes")
        if any(txin.scriptSig for txin in tx.vin) or tx.has_witness():
            raise BadPeerMessage("psbt unsigned transaction carries signatures")
        return cls(tx, inputs)


def _pair(out: io.BytesIO, key: bytes, value: bytes) -> None:
    BytesSerializer.stream_serialize(key, out)
    BytesSerializer.stream_serialize(value, out)


def _read_map(stream: io.BytesIO) -> dict[bytes, bytes]:
    entries: dict[bytes, bytes] = {}
    while True:
        size = VarIntSerializer.stream_deserialize(stream)
        if size == 0:
            return entries
        key = stream.read(size)
        if len(key) != size:
            raise BadPeerMessage("psbt key is truncated")
        value = BytesSerializer.stream_deserialize(stream)
        if key in entries:
            raise BadPeerMessage(f"psbt repeats key {key.hex()}")
        entries[key] = value


def _input(entries: dict[bytes, bytes]) -> PsbtInput:
    utxo = entries.pop(bytes([IN_WITNESS_UTXO]), None)
    script = entries.pop(bytes([IN_WITNESS_SCRIPT]), None)
    if utxo is None or script is None:
        raise BadPeerMessage("psbt input lacks its witness utxo or witness script")
    sigs: dict[bytes, bytes] = {}
    for key, value in entries.items():
        if key[0] != IN_PARTIAL_SIG or len(key) != 34:
            raise BadPeerMessage(f"psbt input field {key[:1].hex()} is not supported")
        sigs[key[1:]] = value
    return PsbtInput(CTxOut.deserialize(utxo), script, sigs)
