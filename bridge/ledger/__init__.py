"""The SQL ledger: typed models, repositories and the state machines of bridge records."""
