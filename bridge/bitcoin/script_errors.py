"""Errors about deposit scripts: building, parsing and spending them.

BitcoinError (bridge.bitcoin.errors)
└── DepositScriptError
    ├── InvalidEvmAddress        the recipient is not a 20-byte EVM address (or bad checksum)
    ├── InvalidPublicKey         not a valid compressed secp256k1 public key
    ├── DuplicatePublicKey       a federation key appears twice
    ├── InvalidThreshold         m < 1 or m > n
    ├── TooManyKeys              n above OP_CHECKMULTISIG's limit
    ├── InvalidTimeout           CSV timeout outside BIP68's block range
    ├── IncompleteRefundTerms    a refund key without a timeout, or the reverse
    ├── NotADepositScript        bytes that do not parse as a deposit script
    └── DepositSpendError
        ├── NotEnoughSignatures  fewer federation signatures than the threshold
        ├── UnknownSigner        a signature from a key outside the federation
        ├── NoRefundBranch       a refund asked of a script without one
        ├── NotTheRefundKey      a refund signed with another key than the script's
        └── FeeTooHigh           the fee leaves too little for the output
"""

from bridge.bitcoin.errors import BitcoinError


class DepositScriptError(BitcoinError):
    """Base of every error about a deposit script."""


class InvalidEvmAddress(DepositScriptError):
    def __init__(self, value: object, reason: str) -> None:
        self.value = value
        super().__init__(f"invalid EVM recipient address {value!r}: {reason}")


class InvalidPublicKey(DepositScriptError):
    def __init__(self, value: bytes, reason: str) -> None:
        self.value = value
        super().__init__(f"invalid public key {value.hex() or '(empty)'}: {reason}")


class DuplicatePublicKey(DepositScriptError):
    def __init__(self, value: bytes) -> None:
        self.value = value
        super().__init__(f"federation key {value.hex()} appears more than once")


class InvalidThreshold(DepositScriptError):
    def __init__(self, threshold: int, keys: int) -> None:
        self.threshold = threshold
        self.keys = keys
        super().__init__(f"threshold must be between 1 and {keys} (the key count), got {threshold}")


class TooManyKeys(DepositScriptError):
    def __init__(self, keys: int, limit: int) -> None:
        self.keys = keys
        self.limit = limit
        super().__init__(f"at most {limit} federation keys fit a multisig, got {keys}")


class InvalidTimeout(DepositScriptError):
    def __init__(self, value: int, low: int, high: int) -> None:
        self.value = value
        super().__init__(f"refund timeout must be {low}..{high} blocks (BIP68), got {value}")


class IncompleteRefundTerms(DepositScriptError):
    def __init__(self, refund_key: bytes | None, timeout: int | None) -> None:
        self.refund_key = refund_key
        self.timeout = timeout
        given = "a refund key" if refund_key is not None else f"a timeout ({timeout})"
        super().__init__(f"a refund needs both a refund key and a timeout; only {given} given")


class NotADepositScript(DepositScriptError):
    def __init__(self, script: bytes, reason: str) -> None:
        self.script = script
        super().__init__(f"not a deposit script ({reason}): {script.hex()}")


class DepositSpendError(DepositScriptError):
    """A spend of a deposit output cannot be built as asked."""


class NotEnoughSignatures(DepositSpendError):
    def __init__(self, have: int, need: int) -> None:
        self.have = have
        self.need = need
        super().__init__(f"{need} federation signatures needed, got {have}")


class UnknownSigner(DepositSpendError):
    def __init__(self, public_key: bytes) -> None:
        self.public_key = public_key
        super().__init__(f"key {public_key.hex()} is not one of the deposit's federation keys")


class NoRefundBranch(DepositSpendError):
    def __init__(self, script: bytes) -> None:
        self.script = script
        super().__init__(f"deposit script has no refund branch: {script.hex()}")


class NotTheRefundKey(DepositSpendError):
    def __init__(self, given: bytes, expected: bytes) -> None:
        self.given = given
        self.expected = expected
        super().__init__(
            f"key {given.hex()} is not the deposit's refund key {expected.hex()}: only the "
            "depositor's key opens the refund branch"
        )


class FeeTooHigh(DepositSpendError):
    def __init__(self, fee: int, amount: int, keep: int = 1) -> None:
        self.fee = fee
        self.amount = amount
        self.keep = keep
        super().__init__(
            f"fee {fee} sats leaves less than the {keep} sats the output needs, "
            f"of the {amount} sats spent"
        )
