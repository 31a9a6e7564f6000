"""The root of every error Sluice raises, so callers can catch one type at the edge.

SluiceError
├── ConfigError            (sluice.config)
├── BitcoinRPCError ...    (bridge.bitcoin.errors)
└── RegtestError ...       (regtest.errors)
"""


class SluiceError(Exception):
    """Base of all Sluice errors; the message names what is wrong and the offending value."""


class ConfigError(SluiceError):
    """A configuration file or SLUICE_* variable is missing, malformed or out of range."""
