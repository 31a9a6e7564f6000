"""The EVM sidechain: chain, executor, contracts and JSON-RPC."""
