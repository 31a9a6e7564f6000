"""Bitcoin networks Sluice runs on and their segwit (bech32) addresses."""

from enum import StrEnum

from bitcoin import segwit_addr

from bridge.bitcoin.errors import BitcoinError


class UnknownNetwork(BitcoinError):
    def __init__(self, value: str) -> None:
        self.value = value
        names = ", ".join(n.value for n in Network)
        super().__init__(f"unknown Bitcoin network {value!r} (known: {names})")


class Network(StrEnum):
    """A network, named as in `bitcoin.network` of the config."""

    REGTEST = "regtest"
    TESTNET = "testnet"
    SIGNET = "signet"
    MAINNET = "mainnet"

    @classmethod
    def named(cls, name: str) -> "Network":
        try:
            return cls(name)
        except ValueError:
            raise UnknownNetwork(name) from None

    @property
    def hrp(self) -> str:
        """The bech32 human-readable part of this network's segwit addresses."""
        return _HRP[self]

    def segwit_address(self, witness_version: int, program: bytes) -> str:
        address = segwit_addr.encode(self.hrp, witness_version, program)
        if address is None:
            raise BitcoinError(f"witness v{witness_version} program {program.hex()} has no address")
        return str(address)


_HRP = {
    Network.REGTEST: "bcrt",
    Network.TESTNET: "tb",
    Network.SIGNET: "tb",
    Network.MAINNET: "bc",
}
