"""Errors of the sidechain node; the JSON-RPC layer maps each leaf to a code in one place.

SluiceError
└── SidechainError
    ├── GenesisError                 a genesis file is missing, malformed or inconsistent
    ├── StoreError                   the data directory cannot be opened or is corrupt
    │   └── NotInitialized           the data directory holds no chain (run `sluice node init`)
    ├── UnknownBlock                 no block with that number or hash
    ├── ExecutionError               a block cannot be executed or imported
    │   ├── InvalidTransaction       a transaction in a block is invalid against the state
    │   └── HeaderMismatch           an imported header claims a field execution did not produce
    ├── CallError                    eth_call / eth_estimateGas failed
    │   ├── ExecutionReverted        the call reverted (carries the revert data)
    │   └── InsufficientFunds        (also below) the sender cannot pay gas * price + value
    ├── TransactionRejected          the mempool refused a transaction (see leaves below)
    │   ├── MalformedTransaction     not decodable as a signed transaction
    │   ├── BadSignature             the signature does not recover a sender
    │   ├── WrongChainId             signed for another chain
    │   ├── Oversized                more than MAX_TX_SIZE bytes
    │   ├── NonceTooLow              nonce below the sender's account nonce
    │   ├── NonceTooHigh             nonce gap larger than the pool allows for a sender
    │   ├── InsufficientFunds        balance below gas * max fee + value
    │   ├── IntrinsicGasTooLow       gas limit below the transaction's intrinsic gas
    │   ├── GasLimitExceeded         gas limit above the block gas limit
    │   ├── FeeCapBelowBaseFee       max fee per gas below the current base fee ("underpriced")
    │   ├── ReplacementUnderpriced   same sender and nonce, fee bump below the minimum
    │   ├── AlreadyKnown             the same transaction is already pooled
    │   └── PoolFull                 the sender's or the pool's limit is reached
    └── AttestationRejected          an attestation cannot be accepted (see leaves below)
        ├── NotAFederationMember     the signature recovers an address outside the federation
        ├── MalformedAttestation     a field or the signature is malformed
        └── AlreadyMinted            the deposit id was already minted on the chain
"""

from sluice.errors import SluiceError


class SidechainError(SluiceError):
    """Base of every error raised by the sidechain node."""


class GenesisError(SidechainError):
    """A genesis file is missing, malformed or inconsistent."""


class StoreError(SidechainError):
    """The node's data directory cannot be opened or holds inconsistent data."""


class NotInitialized(StoreError):
    def __init__(self, datadir: object) -> None:
        super().__init__(f"no chain in {datadir}: run `sluice node init` first")
        self.datadir = datadir


class UnknownBlock(SidechainError):
    def __init__(self, block_id: object) -> None:
        super().__init__(f"unknown block {block_id!r}")
        self.block_id = block_id


class ExecutionError(SidechainError):
    """A block cannot be executed or imported."""


class InvalidTransaction(ExecutionError):
    def __init__(self, tx_hash: bytes, reason: str) -> None:
        super().__init__(f"invalid transaction 0x{tx_hash.hex()}: {reason}")
        self.tx_hash = tx_hash
        self.reason = reason


class HeaderMismatch(ExecutionError):
    def __init__(self, field: str, claimed: object, computed: object) -> None:
        super().__init__(f"header field {field} is {claimed!r} but execution gives {computed!r}")
        self.field = field
        self.claimed = claimed
        self.computed = computed


class CallError(SidechainError):
    """An eth_call or eth_estimateGas could not run (bad arguments or out of gas)."""


class ExecutionReverted(CallError):
    """The call reverted; `data` is the raw revert data (an Error(string) payload or custom)."""

    def __init__(self, data: bytes, reason: str | None) -> None:
        message = "execution reverted" + (f": {reason}" if reason else "")
        super().__init__(message)
        self.data = data
        self.reason = reason


class TransactionRejected(SidechainError):
    """The mempool refused a transaction; the message follows geth's wording where one exists."""


class MalformedTransaction(TransactionRejected):
    def __init__(self, reason: str) -> None:
        super().__init__(f"malformed transaction: {reason}")
        self.reason = reason


class BadSignature(TransactionRejected):
    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid sender: {reason}")
        self.reason = reason


class WrongChainId(TransactionRejected):
    def __init__(self, expected: int, received: int | None) -> None:
        super().__init__(f"invalid chain id: expected {expected}, got {received}")
        self.expected = expected
        self.received = received


class Oversized(TransactionRejected):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"oversized data: transaction size {size}, limit {limit}")
        self.size = size
        self.limit = limit


class NonceTooLow(TransactionRejected):
    def __init__(self, address: bytes, tx_nonce: int, state_nonce: int) -> None:
        super().__init__(
            f"nonce too low: address 0x{address.hex()}, tx: {tx_nonce} state: {state_nonce}"
        )
        self.address = address
        self.tx_nonce = tx_nonce
        self.state_nonce = state_nonce


class NonceTooHigh(TransactionRejected):
    def __init__(self, address: bytes, tx_nonce: int, max_nonce: int) -> None:
        super().__init__(
            f"nonce too high: address 0x{address.hex()}, tx: {tx_nonce} max accepted: {max_nonce}"
        )
        self.address = address
        self.tx_nonce = tx_nonce
        self.max_nonce = max_nonce


class InsufficientFunds(TransactionRejected, CallError):
    """Balance below gas * price + value: a transaction refused, or a call that cannot run."""

    def __init__(self, address: bytes, balance: int, cost: int) -> None:
        super().__init__(
            f"insufficient funds for gas * price + value: address 0x{address.hex()} "
            f"have {balance} want {cost}"
        )
        self.address = address
        self.balance = balance
        self.cost = cost


class IntrinsicGasTooLow(TransactionRejected):
    def __init__(self, gas: int, intrinsic: int) -> None:
        super().__init__(f"intrinsic gas too low: gas {gas}, minimum needed {intrinsic}")
        self.gas = gas
        self.intrinsic = intrinsic


class GasLimitExceeded(TransactionRejected):
    def __init__(self, gas: int, block_gas_limit: int) -> None:
        super().__init__(f"exceeds block gas limit: gas {gas}, block limit {block_gas_limit}")
        self.gas = gas
        self.block_gas_limit = block_gas_limit


class FeeCapBelowBaseFee(TransactionRejected):
    def __init__(self, max_fee_per_gas: int, base_fee: int) -> None:
        super().__init__(
            f"transaction underpriced: max fee per gas {max_fee_per_gas} "
            f"less than block base fee {base_fee}"
        )
        self.max_fee_per_gas = max_fee_per_gas
        self.base_fee = base_fee


class ReplacementUnderpriced(TransactionRejected):
    def __init__(self, tip: int, fee_cap: int, min_tip: int, min_fee_cap: int) -> None:
        super().__init__(
            f"replacement transaction underpriced: tip {tip} fee cap {fee_cap}, "
            f"need at least tip {min_tip} fee cap {min_fee_cap}"
        )
        self.tip = tip
        self.fee_cap = fee_cap
        self.min_tip = min_tip
        self.min_fee_cap = min_fee_cap


class AlreadyKnown(TransactionRejected):
    def __init__(self, tx_hash: bytes) -> None:
        super().__init__(f"already known: 0x{tx_hash.hex()}")
        self.tx_hash = tx_hash


class PoolFull(TransactionRejected):
    def __init__(self, scope: str, limit: int) -> None:
        super().__init__(f"txpool is full: {scope} limit {limit} reached")
        self.scope = scope
        self.limit = limit


class AttestationRejected(SidechainError):
    """An attestation cannot be accepted."""


class NotAFederationMember(AttestationRejected):
    def __init__(self, signer: bytes) -> None:
        super().__init__(f"attestation signer 0x{signer.hex()} is not a federation member")
        self.signer = signer


class MalformedAttestation(AttestationRejected):
    def __init__(self, reason: str) -> None:
        super().__init__(f"malformed attestation: {reason}")
        self.reason = reason


class AlreadyMinted(AttestationRejected):
    def __init__(self, deposit_id: str) -> None:
        super().__init__(f"deposit {deposit_id} was already minted")
        self.deposit_id = deposit_id
