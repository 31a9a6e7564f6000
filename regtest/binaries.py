"""Where bitcoind and bitcoin-cli are: runs the installer script and reports its wrappers."""

import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from regtest.errors import BinaryNotFound, BitcoindNotInstalled

INSTALLER = Path(__file__).with_name("install-bitcoind.sh")
PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_REGTEST_DIR = PROJECT_DIR / ".regtest"


@dataclass(frozen=True)
class Binaries:
    """The two wrapper scripts every caller runs; they hide how bitcoind was installed."""

    bitcoind: Path
    bitcoin_cli: Path

    @classmethod
    def in_dir(cls, bin_dir: Path) -> "Binaries":
        binaries = cls(bin_dir / "bitcoind", bin_dir / "bitcoin-cli")
        for path in (binaries.bitcoind, binaries.bitcoin_cli):
            if not path.exists():
                raise BinaryNotFound(path)
        return binaries

    def supports(self, option: str) -> bool:
        """Whether this bitcoind knows `-option` (Knots has -rejecttokens, Core does not)."""
        return f"  -{option}" in _help_text(self.bitcoind)


def install(regtest_dir: Path = DEFAULT_REGTEST_DIR, bitcoind: Path | None = None) -> Binaries:
    """Run the installer (idempotent) and return the wrappers it wrote."""
    command = ["bash", str(INSTALLER), "--dir", str(regtest_dir)]
    if bitcoind is not None:
        command += ["--bitcoind", str(bitcoind)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BitcoindNotInstalled(result.returncode, result.stderr[-2000:])
    return Binaries.in_dir(Path(result.stdout.strip().splitlines()[-1]))


@cache
def _help_text(bitcoind: Path) -> str:
    result = subprocess.run(
        [str(bitcoind), "-help", "-help-debug"], capture_output=True, text=True, check=False
    )
    return result.stdout
