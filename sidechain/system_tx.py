"""The deposit (system) transaction: typed (0x7E), with no nonce, no fee and no signature.

It carries one Bitcoin deposit and the federation's attestation signatures. The executor runs it
as a call from `SYSTEM_ADDRESS` to `Bridge.deposit(...)`, free of charge, and credits the native
coin for BTC deposits when (and only when) that call succeeds. Like OP Stack deposits it has a
hash, a receipt and logs like any other transaction; unlike them it never touches a nonce.
"""

from dataclasses import dataclass
from typing import Union

import rlp
from eth.abc import ReceiptAPI, SignedTransactionAPI
from eth.rlp.logs import Log
from eth.rlp.receipts import Receipt
from eth.vm.forks.prague.receipts import PragueReceiptBuilder, PragueTypedReceipt
from eth_abi import encode as abi_encode
from eth_typing import Address, Hash32
from eth_utils import keccak
from rlp.sedes import Binary, CountableList, big_endian_int

from sidechain.errors import MalformedTransaction
from sidechain.predeploys import BRIDGE_ADDRESS, SYSTEM_ADDRESS

DEPOSIT_TX_TYPE = 0x7E
# Gas a deposit may use (it counts against the block's gas limit like any transaction): the
# mint and the claim it records, plus each signature's check (ecrecover and the member lookup),
# with room to spare: a USDT mint to a new account with 3 signatures uses about 127,000.
DEPOSIT_BASE_GAS = 150_000
DEPOSIT_GAS_PER_SIGNATURE = 10_000
ASSET_BTC = 0
ASSET_USDT = 1
WEI_PER_SAT = 10**10

_DEPOSIT_ARGS_TYPES = ("bytes32", "uint32", "uint8", "uint256", "address", "bytes[]")
DEPOSIT_SELECTOR = keccak(text=f"deposit({','.join(_DEPOSIT_ARGS_TYPES)})")[:4]


class DepositReceipt(PragueTypedReceipt):
    """Receipts of all Prague types plus the deposit type, encoded `0x7e || rlp(receipt)`."""

    codecs = {**PragueTypedReceipt.codecs, DEPOSIT_TX_TYPE: Receipt}  # noqa: RUF012


class SluiceReceiptBuilder(PragueReceiptBuilder):
    typed_receipt_class = DepositReceipt


class _DepositFields(rlp.Serializable):
    fields = (
        ("txid", Binary.fixed_length(32)),
        ("vout", big_endian_int),
        ("asset", big_endian_int),
        ("amount", big_endian_int),
        ("recipient", Binary.fixed_length(20)),
        ("signatures", CountableList(Binary.fixed_length(65))),
        ("gas", big_endian_int),
    )


@dataclass(frozen=True)
class DepositTransaction:
    """One attested Bitcoin deposit; `signatures` are 65-byte (r, s, v) signatures, sorted by
    signer address ascending, which is the order the Bridge checks them in.

    `txid` is in the byte order the attestation signs (see `sidechain.attestation`).
    """

    txid: bytes
    vout: int
    asset: int
    amount: int
    recipient: Address
    signatures: tuple[bytes, ...]
    gas: int = -1  # -1: the default for its signature count, `deposit_gas(len(signatures))`

    type_id = DEPOSIT_TX_TYPE
    sender = SYSTEM_ADDRESS
    to = BRIDGE_ADDRESS
    nonce = 0
    value = 0
    max_fee_per_gas = 0
    max_priority_fee_per_gas = 0
    gas_price = 0

    def __post_init__(self) -> None:
        if self.gas < 0:
            object.__setattr__(self, "gas", deposit_gas(len(self.signatures)))

    def _fields(self) -> _DepositFields:
        return _DepositFields(
            self.txid,
            self.vout,
            self.asset,
            self.amount,
            self.recipient,
            list(self.signatures),
            self.gas,
        )

    @property
    def data(self) -> bytes:
        """The call it makes: `Bridge.deposit(txid, vout, asset, amount, recipient, signatures)`."""
        args = (self.txid, self.vout, self.asset, self.amount, self.recipient, self.signatures)
        return DEPOSIT_SELECTOR + abi_encode(_DEPOSIT_ARGS_TYPES, args)

    def make_receipt(
        self,
        status: bytes,
        gas_used: int,
        log_entries: tuple[tuple[bytes, tuple[int, ...], bytes], ...],
    ) -> ReceiptAPI:
        logs = [Log(address, topics, data) for address, topics, data in log_entries]
        return DepositReceipt(DEPOSIT_TX_TYPE, Receipt(status, gas_used, logs))

    @property
    def deposit_id(self) -> str:
        """The deposit id `txid:vout` (txid in hex as carried), unique per Bitcoin output."""
        return f"{self.txid.hex()}:{self.vout}"

    def encode(self) -> bytes:
        """Network and trie form: the type byte followed by the RLP list of fields."""
        return bytes([DEPOSIT_TX_TYPE]) + rlp.encode(self._fields())

    @property
    def hash(self) -> Hash32:
        return Hash32(keccak(self.encode()))

    @classmethod
    def decode(cls, encoded: bytes) -> "DepositTransaction":
        if not encoded or encoded[0] != DEPOSIT_TX_TYPE:
            raise MalformedTransaction("not a deposit transaction (type 0x7e)")
        try:
            fields = rlp.decode(encoded[1:], sedes=_DepositFields)
        except rlp.DecodingError as error:
            raise MalformedTransaction(f"bad deposit transaction encoding: {error}") from error
        return cls(
            txid=fields.txid,
            vout=fields.vout,
            asset=fields.asset,
            amount=fields.amount,
            recipient=Address(fields.recipient),
            signatures=tuple(fields.signatures),
            gas=fields.gas,
        )


def deposit_gas(signatures: int) -> int:
    return DEPOSIT_BASE_GAS + DEPOSIT_GAS_PER_SIGNATURE * signatures


BlockTransaction = Union[SignedTransactionAPI, DepositTransaction]  # noqa: UP007
