"""The Bitcoin side of the bridge and its SQL ledger."""
