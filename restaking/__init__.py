"""Restaking: vaults, operators, rewards, slashing and the fraud-proof court."""
