"""Everything that talks to Bitcoin: RPC client, deposit scripts, Omni (USDT), scanning."""
