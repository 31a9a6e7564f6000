"""Ethereum JSON-RPC server for the sidechain node."""
