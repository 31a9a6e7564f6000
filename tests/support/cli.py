"""The `sluice` command line in a subprocess, as a user runs it."""

import subprocess

from sluice.processes import sluice_command


def sluice(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `sluice ARGS`; its exit status and output, whatever they are (tests check them)."""
    return subprocess.run(
        sluice_command(*args), capture_output=True, text=True, check=False, timeout=timeout
    )
