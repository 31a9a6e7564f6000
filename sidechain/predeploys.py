"""Fixed addresses on the sidechain: the system sender and the contracts placed at genesis."""

from eth_typing import Address
from eth_utils import to_canonical_address

# Sender of system transactions (deposits): no key exists for it, no nonce, no fee.
SYSTEM_ADDRESS: Address = to_canonical_address("0xfffffffffffffffffffffffffffffffffffffffe")
# Receives base fees and priority fees at block end, so no BTC leaves the sidechain's supply.
FEE_VAULT_ADDRESS: Address = to_canonical_address("0x5100000000000000000000000000000000000000")
BRIDGE_ADDRESS: Address = to_canonical_address("0x5100000000000000000000000000000000000001")
USDT_ADDRESS: Address = to_canonical_address("0x5100000000000000000000000000000000000002")
