"""Ethereum JSON-RPC server for the sidechain node.

server.py (HTTP, JSON-RPC 2.0 framing, limits) dispatches to method tables: eth.py (eth_, net_,
web3_), filters.py (polling filters), deposits.py (sluice_submitAttestation). params.py parses
arguments, serialize.py renders the node's views, errors.py maps node errors to JSON-RPC codes,
app.py assembles it all and serves it beside the block producer.
"""
