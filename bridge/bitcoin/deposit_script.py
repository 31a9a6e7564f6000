"""The P2WSH deposit script: one per (EVM recipient, optional refund key), built and parsed back.

Layout (witness script), federation keys sorted by their 33-byte encoding as in BIP67 so
every member derives the same address from the same key set, whatever order it lists them in:

    <recipient: 20 bytes> OP_DROP
    OP_m <key_1> ... <key_n> OP_n OP_CHECKMULTISIG

and, when the depositor gives a refund key and a CSV timeout (blocks, BIP68):

    <recipient: 20 bytes> OP_DROP
    OP_IF
        OP_m <key_1> ... <key_n> OP_n OP_CHECKMULTISIG
    OP_ELSE
        <timeout> OP_CHECKSEQUENCEVERIFY OP_DROP <refund key> OP_CHECKSIG
    OP_ENDIF
"""

import hashlib
import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from bitcoin.core.script import (
    OP_0,
    OP_CHECKMULTISIG,
    OP_CHECKSEQUENCEVERIFY,
    OP_CHECKSIG,
    OP_DROP,
    OP_ELSE,
    OP_ENDIF,
    OP_IF,
    CScript,
    CScriptInvalidError,
    CScriptOp,
)
from coincurve import PublicKey
from eth_utils import is_checksum_address

from bridge.bitcoin.network import Network
from bridge.bitcoin.script_errors import (
    DepositScriptError,
    DuplicatePublicKey,
    IncompleteRefundTerms,
    InvalidEvmAddress,
    InvalidPublicKey,
    InvalidThreshold,
    InvalidTimeout,
    NotADepositScript,
    TooManyKeys,
)

MAX_FEDERATION_KEYS = 20  # OP_CHECKMULTISIG's limit on public keys
MIN_TIMEOUT = 1
MAX_TIMEOUT = 0xFFFF  # BIP68 block-based relative lock: 16 bits
_HEX_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


def parse_evm_address(value: str | bytes) -> bytes:
    """The 20 bytes of an EVM address given as 0x-hex (EIP-55 checked if mixed case) or bytes."""
    if isinstance(value, bytes):
        if len(value) != 20:
            raise InvalidEvmAddress(value, f"expected 20 bytes, got {len(value)}")
        return value
    if not isinstance(value, str) or not _HEX_ADDRESS.fullmatch(value):
        raise InvalidEvmAddress(value, "expected 0x followed by 40 hex digits")
    digits = value[2:]
    mixed_case = digits != digits.lower() and digits != digits.upper()
    if mixed_case and not is_checksum_address(value):
        raise InvalidEvmAddress(value, "mixed-case address fails its EIP-55 checksum")
    return bytes.fromhex(digits)


def parse_public_key(value: bytes | str) -> bytes:
    """A compressed secp256k1 public key (33 bytes), checked to be a point on the curve."""
    raw = bytes.fromhex(value) if isinstance(value, str) else bytes(value)
    if len(raw) == 65 and raw[0] == 0x04:
        raise InvalidPublicKey(raw, "uncompressed keys are not allowed in segwit scripts")
    if len(raw) != 33 or raw[0] not in (0x02, 0x03):
        raise InvalidPublicKey(raw, f"expected 33 bytes starting 02 or 03, got {len(raw)} bytes")
    try:
        PublicKey(raw)
    except ValueError as error:
        raise InvalidPublicKey(raw, "not a point on secp256k1") from error
    return raw


@dataclass(frozen=True)
class DepositScript:
    """The fields of a deposit script; construction validates them and sorts the keys."""

    recipient: bytes
    federation_keys: tuple[bytes, ...]
    threshold: int
    refund_key: bytes | None = None
    timeout: int | None = None

    def __post_init__(self) -> None:
        recipient = parse_evm_address(self.recipient)
        keys = tuple(sorted(parse_public_key(key) for key in self.federation_keys))
        for earlier, later in itertools.pairwise(keys):
            if earlier == later:
                raise DuplicatePublicKey(later)
        if len(keys) > MAX_FEDERATION_KEYS:
            raise TooManyKeys(len(keys), MAX_FEDERATION_KEYS)
        if not 1 <= self.threshold <= len(keys):
            raise InvalidThreshold(self.threshold, len(keys))
        if (self.refund_key is None) != (self.timeout is None):
            raise IncompleteRefundTerms(self.refund_key, self.timeout)
        refund_key = None if self.refund_key is None else parse_public_key(self.refund_key)
        if self.timeout is not None and not MIN_TIMEOUT <= self.timeout <= MAX_TIMEOUT:
            raise InvalidTimeout(self.timeout, MIN_TIMEOUT, MAX_TIMEOUT)
        # Canonical forms whatever the caller gave (hex keys too): keys in BIP67 order.
        object.__setattr__(self, "recipient", recipient)
        object.__setattr__(self, "federation_keys", keys)
        object.__setattr__(self, "refund_key", refund_key)

    @classmethod
    def create(
        cls,
        recipient: str | bytes,
        federation_keys: Iterable[bytes | str],
        threshold: int,
        refund_key: bytes | str | None = None,
        timeout: int | None = None,
    ) -> "DepositScript":
        """Build from user-facing forms: a 0x address, keys as bytes or hex."""
        return cls(
            recipient=parse_evm_address(recipient),
            federation_keys=tuple(parse_public_key(key) for key in federation_keys),
            threshold=threshold,
            refund_key=None if refund_key is None else parse_public_key(refund_key),
            timeout=timeout,
        )

    @property
    def has_refund(self) -> bool:
        return self.refund_key is not None

    @property
    def witness_script(self) -> bytes:
        keys = self.federation_keys
        multisig = [self.threshold, *keys, len(keys), OP_CHECKMULTISIG]
        if self.refund_key is None:
            return bytes(CScript([self.recipient, OP_DROP, *multisig]))
        refund = [self.timeout, OP_CHECKSEQUENCEVERIFY, OP_DROP, self.refund_key, OP_CHECKSIG]
        return bytes(
            CScript([self.recipient, OP_DROP, OP_IF, *multisig, OP_ELSE, *refund, OP_ENDIF])
        )

    @property
    def witness_program(self) -> bytes:
        return hashlib.sha256(self.witness_script).digest()

    @property
    def script_pubkey(self) -> bytes:
        return bytes(CScript([OP_0, self.witness_program]))

    def address(self, network: Network | str) -> str:
        return Network.named(str(network)).segwit_address(0, self.witness_program)

    @classmethod
    def parse(cls, script: bytes) -> "DepositScript":
        """Read the fields back; only the exact (minimal, sorted) encoding `build` makes parses."""
        try:
            tokens = list(CScript(script))
        except CScriptInvalidError as error:
            raise NotADepositScript(script, f"truncated push: {error}") from error
        fields = _match_fields(script, tokens)
        try:
            parsed = cls(**fields)  # type: ignore[arg-type]
        except DepositScriptError as error:
            raise NotADepositScript(script, str(error)) from error
        if parsed.witness_script != script:
            raise NotADepositScript(script, "not in canonical form (key order or number encoding)")
        return parsed


Token = CScriptOp | bytes | int


def _match_fields(script: bytes, tokens: list[Token]) -> dict[str, object]:
    def fail(reason: str) -> NotADepositScript:
        return NotADepositScript(script, reason)

    if len(tokens) < 2 or not isinstance(tokens[0], bytes) or tokens[1] != OP_DROP:
        raise fail("does not start with <recipient> OP_DROP")
    fields: dict[str, object] = {"recipient": tokens[0]}
    body = tokens[2:]
    if body and body[0] == OP_IF:
        if len(body) < 8 or body[-7] != OP_ELSE or body[-1] != OP_ENDIF:
            raise fail("refund branch is not OP_ELSE <timeout> CSV OP_DROP <key> CHECKSIG ENDIF")
        timeout, csv, drop, refund_key, checksig = body[-6:-1]
        if (csv, drop, checksig) != (OP_CHECKSEQUENCEVERIFY, OP_DROP, OP_CHECKSIG):
            raise fail("refund branch must use OP_CHECKSEQUENCEVERIFY then OP_CHECKSIG")
        if not isinstance(refund_key, bytes):
            raise fail("refund key is not a push")
        fields.update(refund_key=refund_key, timeout=_script_number(script, timeout))
        body = body[1:-7]
    if len(body) < 4 or body[-1] != OP_CHECKMULTISIG:
        raise fail("no OP_CHECKMULTISIG")
    keys = body[1:-2]
    if not all(isinstance(key, bytes) for key in keys):
        raise fail("multisig keys must be pushes")
    if _script_number(script, body[-2]) != len(keys):
        raise fail("key count does not match the keys pushed")
    fields.update(federation_keys=tuple(keys), threshold=_script_number(script, body[0]))
    return fields


def _script_number(script: bytes, token: Token) -> int:
    """A script integer: OP_0..OP_16 (iterated as plain ints) or a sign-magnitude push."""
    if type(token) is int:
        return token
    if isinstance(token, bytes) and 0 < len(token) <= 4:
        value = int.from_bytes(token, "little")
        sign_bit = 0x80 << (8 * (len(token) - 1))
        return -(value & ~sign_bit) if value & sign_bit else value
    raise NotADepositScript(script, f"expected a number, got {token!r}")
