"""Installs and drives a real bitcoind in regtest: process manager, miner, faucet."""
