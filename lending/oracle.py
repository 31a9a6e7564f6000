"""Federation-signed price reports for PriceOracle.vy: the EIP-712 message, its digest, signing.

Reports are signed under the domain ("Sluice Price Oracle", "1", chain id, oracle address) with
the type `Price(uint8 asset,uint256 price,uint256 timestamp,uint256 round)`; the typed-data
machinery is the Bridge's (sidechain.attestation). The oracle wants a report's signatures
ordered by signer address, strictly ascending. Prices are USD per whole coin, 8 decimals.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from eth_account import Account
from eth_account.messages import encode_typed_data

from lending.errors import MalformedPriceReport
from sidechain.attestation import attestation_digest, sign_attestation, typed_data
from sidechain.system_tx import ASSET_BTC, ASSET_USDT

ORACLE_DOMAIN_NAME = "Sluice Price Oracle"
PRICE_DECIMALS = 8
_UINT256_MAX = 2**256 - 1


@dataclass(frozen=True)
class PriceReport:
    """`asset` (0 = BTC, 1 = USDT) is worth `price` * 10**-8 USD per coin at `timestamp`."""

    asset: int
    price: int
    timestamp: int
    round: int

    PRIMARY_TYPE: ClassVar[str] = "Price"
    FIELDS: ClassVar[list[dict[str, str]]] = [
        {"name": "asset", "type": "uint8"},
        {"name": "price", "type": "uint256"},
        {"name": "timestamp", "type": "uint256"},
        {"name": "round", "type": "uint256"},
    ]

    def __post_init__(self) -> None:
        if self.asset not in (ASSET_BTC, ASSET_USDT):
            raise MalformedPriceReport(f"unknown asset {self.asset}")
        for name in ("price", "timestamp", "round"):
            value = getattr(self, name)
            if not 0 < value <= _UINT256_MAX:
                raise MalformedPriceReport(f"{name} must be positive: {value}")

    def eip712_message(self) -> dict[str, Any]:
        return {
            "asset": self.asset,
            "price": self.price,
            "timestamp": self.timestamp,
            "round": self.round,
        }


def price_digest(report: PriceReport, chain_id: int, oracle_address: bytes) -> bytes:
    """The 32-byte hash members sign, equal to PriceOracle.price_digest."""
    return attestation_digest(report, chain_id, oracle_address, ORACLE_DOMAIN_NAME)


def sign_price(
    report: PriceReport, private_key: bytes | str, chain_id: int, oracle_address: bytes
) -> bytes:
    """One member's 65-byte r || s || v signature of `report`."""
    return sign_attestation(report, private_key, chain_id, oracle_address, ORACLE_DOMAIN_NAME)


def price_signer(
    report: PriceReport, signature: bytes, chain_id: int, oracle_address: bytes
) -> str:
    """The address (lowercase hex) whose key made `signature` of `report`."""
    message = typed_data(report, chain_id, oracle_address, ORACLE_DOMAIN_NAME)
    signer = Account.recover_message(encode_typed_data(full_message=message), signature=signature)
    return str(signer).lower()


def quorum_signatures(
    report: PriceReport, private_keys: Sequence[bytes], chain_id: int, oracle_address: bytes
) -> list[bytes]:
    """Each key's signature of `report`, ordered by signer address as the oracle wants."""
    ordered = sorted(private_keys, key=lambda key: bytes.fromhex(Account.from_key(key).address[2:]))
    return [sign_price(report, key, chain_id, oracle_address) for key in ordered]
