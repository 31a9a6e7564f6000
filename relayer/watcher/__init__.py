"""`sluice watcher run`: an independent checker of the federation's claims.

It shares nothing with the relayers: its own process, bitcoind connection, re-executed copy of
the sidechain (`replay`) and state file (`state`). It follows both chains, judges every claim
the court records (`judge`), challenges false ones with a bond and the evidence, votes on
challenges when its key is an operator's, resolves them and takes its payouts (`watcher`,
through `sender`). `run` wires it together.
"""
