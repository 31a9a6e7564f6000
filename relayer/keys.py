"""A federation member's two keys, and the one place they are read from a file or the config.

`MemberKeys.bitcoin` (a coincurve secp256k1 key) signs the vault multisig; `MemberKeys.evm`
(an eth-account LocalAccount) signs deposit attestations, Bridge transactions and peer
messages. A keys file is JSON or TOML:

    member_id = 1
    bitcoin_private_key = "<64 hex digits>"
    evm_private_key = "0x<64 hex digits>"

and must be readable by its owner only (mode 0600 or narrower): `load_keys_file` refuses a
wider one with `KeysFileTooOpen`. Secrets never reach a repr, str, log line or error message.
"""

import json
import os
import secrets
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coincurve import PrivateKey
from eth_account import Account
from eth_account.signers.local import LocalAccount

from relayer.errors import KeysError, KeysFileTooOpen
from sluice.config import RelayerConfig

KEY_FIELDS = ("bitcoin_private_key", "evm_private_key")


@dataclass(frozen=True)
class MemberKeys:
    """Member `member_id`'s keys. Same attribute names as relayer.signing.SigningKeys."""

    member_id: int
    bitcoin: PrivateKey = field(repr=False)
    evm: LocalAccount = field(repr=False)

    @property
    def bitcoin_public(self) -> bytes:
        """The 33-byte compressed public key that goes into the vault multisig."""
        return bytes(self.bitcoin.public_key.format(compressed=True))

    @property
    def address(self) -> str:
        """The EVM address, lowercase 0x-hex."""
        return str(self.evm.address).lower()

    @property
    def evm_private_key(self) -> bytes:
        """The raw EVM key, for sign_attestation; never log it."""
        return bytes(self.evm.key)

    def __repr__(self) -> str:
        return f"MemberKeys(member_id={self.member_id}, address={self.address})"

    __str__ = __repr__

    @classmethod
    def generate(cls, member_id: int) -> "MemberKeys":
        """Fresh random keys (for `sluice federation init` and tests)."""
        return cls.from_secrets(member_id, secrets.token_bytes(32), secrets.token_bytes(32))

    @classmethod
    def from_secrets(
        cls, member_id: int, bitcoin_secret: bytes | str, evm_secret: bytes | str
    ) -> "MemberKeys":
        """Keys from raw 32-byte secrets or their hex; raises KeysError naming the field only."""
        bitcoin_raw = _secret_bytes(bitcoin_secret, "bitcoin_private_key")
        evm_raw = _secret_bytes(evm_secret, "evm_private_key")
        try:
            bitcoin = PrivateKey(bitcoin_raw)
        except ValueError:
            raise KeysError("bitcoin_private_key is not a valid secp256k1 secret") from None
        try:
            evm = Account.from_key(evm_raw)
        except (ValueError, TypeError):
            raise KeysError("evm_private_key is not a valid secp256k1 secret") from None
        return cls(member_id, bitcoin, evm)

    def to_mapping(self) -> dict[str, Any]:
        """What a keys file holds (secrets included: only `write_keys_file` should call this)."""
        return {
            "member_id": self.member_id,
            "bitcoin_private_key": self.bitcoin.secret.hex(),
            "evm_private_key": "0x" + self.evm_private_key.hex(),
            "bitcoin_public_key": self.bitcoin_public.hex(),
            "evm_address": self.address,
        }


def _secret_bytes(value: bytes | str, name: str) -> bytes:
    if isinstance(value, str):
        text = value.strip().removeprefix("0x")
        try:
            value = bytes.fromhex(text)
        except ValueError:
            raise KeysError(f"{name} must be 64 hex digits") from None
    if len(value) != 32:
        raise KeysError(f"{name} must be 32 bytes, got {len(value)}")
    return value


def check_permissions(path: Path) -> None:
    """Refuse a keys file that anyone but its owner can read or write."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError as error:
        raise KeysError(f"cannot read keys file {path}: {error.strerror}") from error
    if mode & 0o077:
        raise KeysFileTooOpen(str(path), mode)


def load_keys_file(path: Path) -> MemberKeys:
    """Read a JSON (`.json`) or TOML keys file after checking it is 0600."""
    raw = _read_keys_file(path)
    missing = [name for name in ("member_id", *KEY_FIELDS) if name not in raw]
    if missing:
        raise KeysError(f"keys file {path} lacks {', '.join(missing)}")
    return MemberKeys.from_secrets(
        int(raw["member_id"]), str(raw["bitcoin_private_key"]), str(raw["evm_private_key"])
    )


def load_account(key_file: Path | None, private_key: str | None, prefix: str) -> LocalAccount:
    """An EVM account from `private_key`, else from the `evm_private_key` of `key_file` (a
    member's keys file or any 0600 JSON/TOML holding one); errors name the settings
    `<prefix>key_file` and `<prefix>private_key`, never the key."""
    where = f"{prefix}private_key"
    if not private_key:
        if key_file is None:
            raise KeysError(f"no key: set {prefix}key_file or {prefix}private_key")
        raw = _read_keys_file(key_file)
        if not isinstance(raw.get("evm_private_key"), str):
            raise KeysError(f"keys file {key_file} lacks a string evm_private_key")
        private_key, where = str(raw["evm_private_key"]), f"evm_private_key of {key_file}"
    try:
        return Account.from_key(_secret_bytes(private_key, where))
    except (ValueError, TypeError):
        raise KeysError(f"{where} is not a valid secp256k1 secret") from None


def _read_keys_file(path: Path) -> dict[str, Any]:
    check_permissions(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise KeysError(f"cannot read keys file {path}: {error.strerror}") from error
    try:
        raw = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError):
        raise KeysError(f"keys file {path} is not valid {_format(path)}") from None
    if not isinstance(raw, dict):
        raise KeysError(f"keys file {path} must hold an object")
    return raw


def _format(path: Path) -> str:
    return "JSON" if path.suffix == ".json" else "TOML"


def load_member_keys(config: RelayerConfig) -> MemberKeys:
    """The member's keys from the config's secrets when both are set, else from its keys file."""
    if config.bitcoin_private_key and config.evm_private_key:
        return MemberKeys.from_secrets(
            config.member_id, config.bitcoin_private_key, config.evm_private_key
        )
    if config.keys_file is None:
        raise KeysError(
            "no keys: set relayer.keys_file, or both relayer.bitcoin_private_key and "
            "relayer.evm_private_key"
        )
    keys = load_keys_file(config.keys_file)
    if keys.member_id != config.member_id:
        raise KeysError(
            f"keys file {config.keys_file} is member {keys.member_id}'s, "
            f"but relayer.member_id is {config.member_id}"
        )
    return keys


def write_keys_file(path: Path, keys: MemberKeys) -> None:
    """Write a keys file, mode 0600 from the start; refuses to overwrite one."""
    write_private_file(path, json.dumps(keys.to_mapping(), indent=2) + "\n")


def write_private_file(path: Path, text: str) -> None:
    """Create `path` with mode 0600 (never briefly readable by others); no overwrite."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeysError(f"{path} already exists; refusing to overwrite it") from None
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def replace_private_file(path: Path, text: str) -> None:
    """Write `path` anew, mode 0600 from the start, replacing it atomically."""
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    write_private_file(partial, text)
    partial.replace(path)
