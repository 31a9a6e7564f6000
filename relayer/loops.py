"""Every loop a relayer runs: the registry `sluice relayer run` hands to `run_relayer`.

Adding a loop is adding its factory here (see relayer.runner for what a factory gets).
"""

from relayer.court_mirror import court_loops
from relayer.release_loops import federation_loops
from relayer.runner import LoopFactory, deposit_loops

LOOP_FACTORIES: list[LoopFactory] = [deposit_loops, federation_loops, court_loops]
