"""EIP-712 messages the federation signs for the Bridge: deposit attestations, refunds, releases.

All three are signed under the domain ("Sluice Bridge", "1", chain id, Bridge address) and
checked on chain by `Bridge.vy` with the same type strings. Relayers call `sign_attestation`;
the node calls `recover_attester` to check each `sluice_submitAttestation` signer. The Bridge
wants the signatures of one message ordered by signer address, strictly ascending.

Byte order: `txid` and `btc_txid` are the 32 txid bytes in the order bitcoind displays them in
hex (`bytes.fromhex(rpc_txid)`), which is the reverse of their order inside Bitcoin's data.
"""

from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_keys.constants import SECPK1_N
from eth_keys.exceptions import BadSignature
from eth_typing import Address
from eth_utils import keccak, to_canonical_address, to_checksum_address

from sidechain.errors import MalformedAttestation
from sidechain.system_tx import ASSET_BTC, ASSET_USDT

DOMAIN_NAME = "Sluice Bridge"
DOMAIN_VERSION = "1"
SIGNATURE_SIZE = 65
_UINT32_MAX = 2**32 - 1
_UINT256_MAX = 2**256 - 1
_EIP712_DOMAIN = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


def _require(condition: bool, reason: str) -> None:
    if not condition:
        raise MalformedAttestation(reason)


@dataclass(frozen=True)
class Attestation:
    """A member's claim that Bitcoin output txid:vout paid `amount` of `asset` for `recipient`.

    `amount` is in Bitcoin base units (sats for BTC, 10**-8 USDT for USDT).
    """

    txid: bytes
    vout: int
    asset: int
    amount: int
    recipient: bytes

    PRIMARY_TYPE: ClassVar[str] = "Deposit"
    FIELDS: ClassVar[list[dict[str, str]]] = [
        {"name": "txid", "type": "bytes32"},
        {"name": "vout", "type": "uint32"},
        {"name": "asset", "type": "uint8"},
        {"name": "amount", "type": "uint256"},
        {"name": "recipient", "type": "address"},
    ]

    def __post_init__(self) -> None:
        _require(len(self.txid) == 32, f"txid must be 32 bytes, got {len(self.txid)}")
        _require(0 <= self.vout <= _UINT32_MAX, f"vout out of range 0..2**32-1: {self.vout}")
        _require(self.asset in (ASSET_BTC, ASSET_USDT), f"unknown asset {self.asset}")
        _require(0 < self.amount <= _UINT256_MAX, f"amount must be positive: {self.amount}")
        _require(len(self.recipient) == 20, f"recipient must be 20 bytes: {len(self.recipient)}")
        _require(any(self.recipient), "recipient is the zero address")

    @property
    def deposit_id(self) -> str:
        """`txid:vout` with the txid in display hex, as bitcoind shows it."""
        return f"{self.txid.hex()}:{self.vout}"

    def eip712_message(self) -> dict[str, Any]:
        return {
            "txid": self.txid,
            "vout": self.vout,
            "asset": self.asset,
            "amount": self.amount,
            "recipient": to_checksum_address(self.recipient),
        }


@dataclass(frozen=True)
class Refund:
    """The federation rejects withdrawal `withdrawal_id`: return it to its sender."""

    withdrawal_id: int

    PRIMARY_TYPE: ClassVar[str] = "Refund"
    FIELDS: ClassVar[list[dict[str, str]]] = [{"name": "withdrawalId", "type": "uint256"}]

    def __post_init__(self) -> None:
        _check_withdrawal_id(self.withdrawal_id)

    def eip712_message(self) -> dict[str, Any]:
        return {"withdrawalId": self.withdrawal_id}


@dataclass(frozen=True)
class Release:
    """Withdrawal `withdrawal_id` was paid on Bitcoin by transaction `btc_txid`."""

    withdrawal_id: int
    btc_txid: bytes

    PRIMARY_TYPE: ClassVar[str] = "Release"
    FIELDS: ClassVar[list[dict[str, str]]] = [
        {"name": "withdrawalId", "type": "uint256"},
        {"name": "btcTxid", "type": "bytes32"},
    ]

    def __post_init__(self) -> None:
        _check_withdrawal_id(self.withdrawal_id)
        _require(len(self.btc_txid) == 32, f"btc_txid must be 32 bytes: {len(self.btc_txid)}")

    def eip712_message(self) -> dict[str, Any]:
        return {"withdrawalId": self.withdrawal_id, "btcTxid": self.btc_txid}


BridgeMessage = Attestation | Refund | Release


class TypedMessage(Protocol):
    """A message signed as EIP-712 typed data: the Bridge's, or another contract's (prices)."""

    PRIMARY_TYPE: ClassVar[str]
    FIELDS: ClassVar[list[dict[str, str]]]

    def eip712_message(self) -> dict[str, Any]: ...


def _check_withdrawal_id(withdrawal_id: int) -> None:
    _require(0 < withdrawal_id <= _UINT256_MAX, f"withdrawal id must be positive: {withdrawal_id}")


def typed_data(
    message: TypedMessage, chain_id: int, bridge_address: bytes, domain_name: str = DOMAIN_NAME
) -> dict[str, Any]:
    """The full EIP-712 structure of `message` (what a wallet's eth_signTypedData_v4 takes),
    under the domain (domain_name, "1", chain_id, bridge_address: the verifying contract)."""
    return {
        "types": {"EIP712Domain": _EIP712_DOMAIN, message.PRIMARY_TYPE: message.FIELDS},
        "primaryType": message.PRIMARY_TYPE,
        "domain": {
            "name": domain_name,
            "version": DOMAIN_VERSION,
            "chainId": chain_id,
            "verifyingContract": to_checksum_address(bridge_address),
        },
        "message": message.eip712_message(),
    }


def _signable(
    message: TypedMessage, chain_id: int, bridge_address: bytes, domain_name: str = DOMAIN_NAME
) -> SignableMessage:
    return encode_typed_data(
        full_message=typed_data(message, chain_id, bridge_address, domain_name)
    )


def attestation_digest(
    message: TypedMessage, chain_id: int, bridge_address: bytes, domain_name: str = DOMAIN_NAME
) -> bytes:
    """The 32-byte hash that is signed, equal to the Bridge's *_digest views."""
    signable = _signable(message, chain_id, bridge_address, domain_name)
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


def sign_attestation(
    message: TypedMessage,
    private_key: bytes | str,
    chain_id: int,
    bridge_address: bytes,
    domain_name: str = DOMAIN_NAME,
) -> bytes:
    """A member's 65-byte r || s || v signature (v = 27 or 28, low s) of `message`."""
    signable = _signable(message, chain_id, bridge_address, domain_name)
    signed = Account.sign_message(signable, private_key)
    return bytes(signed.signature)


def recover_attester(
    message: BridgeMessage, signature: bytes, chain_id: int, bridge_address: bytes
) -> Address:
    """The address that signed `message`; refuses what the Bridge would refuse (length, v, high s).

    Raises MalformedAttestation for a signature that is not one the Bridge accepts.
    """
    _require(
        len(signature) == SIGNATURE_SIZE,
        f"signature must be {SIGNATURE_SIZE} bytes, got {len(signature)}",
    )
    _require(signature[64] in (27, 28), f"signature v must be 27 or 28, got {signature[64]}")
    s = int.from_bytes(signature[32:64], "big")
    _require(0 < s <= SECPK1_N // 2, "signature s is not in the lower half of the curve order")
    try:
        signer = Account.recover_message(
            _signable(message, chain_id, bridge_address), signature=signature
        )
    except (BadSignature, ValueError) as error:
        raise MalformedAttestation(f"signature does not recover a signer: {error}") from error
    return Address(to_canonical_address(signer))
