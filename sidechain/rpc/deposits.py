"""The sluice_ methods: federation members hand the node their deposit attestations.

sluice_submitAttestation(
    {"txid": "0x<32 bytes, bitcoind display order>", "vout": "0x0", "asset": "BTC" | "USDT",
     "amount": "0x<base units: sats or 10^-8 USDT>", "recipient": "0x<address>"},
    "0x<65-byte signature r || s || v of the EIP-712 Deposit message>",
) -> {"depositId", "signers", "threshold", "quorum", "transactionHash" (null until minted)}
"""

from typing import Any

from sidechain.attestation import Attestation
from sidechain.node import Node
from sidechain.rpc import serialize
from sidechain.rpc.params import Params, ValueInvalid, address, data, fixed_bytes, quantity
from sidechain.rpc.server import AnyHandler
from sidechain.system_tx import ASSET_BTC, ASSET_USDT

ASSETS = {"BTC": ASSET_BTC, "USDT": ASSET_USDT}
_ATTESTATION_FIELDS = frozenset({"txid", "vout", "asset", "amount", "recipient"})


class DepositMethods:
    def __init__(self, node: Node) -> None:
        self._node = node

    def table(self) -> dict[str, AnyHandler]:
        return {"sluice_submitAttestation": self.submit_attestation}

    def submit_attestation(self, params: Params) -> dict[str, Any]:
        """Record one member's signature; the deposit is minted once `threshold` members signed.

        A malformed field or signature is an invalid-params error; a signer outside the
        federation or an already minted deposit is a server error (-32000).
        """
        params.expect(2)
        attestation = params.get(0, attestation_param)
        signature = params.get(1, data)
        status = self._node.submit_attestation(attestation, signature)
        return serialize.attestation_status(status)


def _asset(value: Any) -> int:
    if isinstance(value, str) and value.upper() in ASSETS:
        return ASSETS[value.upper()]
    try:
        return quantity(value)
    except ValueInvalid:
        raise ValueInvalid(f"asset must be BTC, USDT or its number, got {value!r}") from None


def attestation_param(value: Any) -> Attestation:
    if not isinstance(value, dict):
        raise ValueInvalid(f"attestation must be an object, got {value!r}")
    missing = sorted(_ATTESTATION_FIELDS - set(value))
    unknown = sorted(set(value) - _ATTESTATION_FIELDS)
    if missing or unknown:
        raise ValueInvalid(f"attestation fields missing: {missing}, unknown: {unknown}")
    parsers = {
        "txid": fixed_bytes(32, "txid"),
        "vout": quantity,
        "asset": _asset,
        "amount": quantity,
        "recipient": address,
    }
    fields: dict[str, Any] = {}
    for key, parse in parsers.items():
        try:
            fields[key] = parse(value[key])
        except ValueInvalid as error:
            raise ValueInvalid(f"field {key}: {error}") from None
    return Attestation(**fields)
