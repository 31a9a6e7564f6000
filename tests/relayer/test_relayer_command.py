"""`sluice relayer run` refuses to start on bad settings, with a message naming the fix."""

import subprocess
import sys
from pathlib import Path

import pytest

from sluice.config import load_config
from sluice.errors import ConfigError


def sluice(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sluice.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_a_keys_file_readable_by_others_stops_the_relayer_before_it_starts(
    tmp_path: Path,
) -> None:
    assert sluice("federation", "init", "--dir", str(tmp_path)).returncode == 0
    keys = tmp_path / "member-1" / "keys.json"
    keys.chmod(0o644)
    result = sluice("relayer", "run", "--config", str(tmp_path / "member-1" / "relayer.toml"))
    assert result.returncode == 2
    assert "mode 0644" in result.stderr and f"chmod 600 {keys}" in result.stderr
    assert "private_key" not in result.stderr


def test_peer_addresses_and_urls_must_pair_up() -> None:
    with pytest.raises(ConfigError, match="must list the same peers"):
        load_config(
            environ={
                "SLUICE_RELAYER_PEER_ADDRESSES": "0x" + "11" * 20,
                "SLUICE_RELAYER_PEER_URLS": "",
            }
        )


def test_relayer_settings_come_from_the_environment() -> None:
    config = load_config(
        environ={"SLUICE_RELAYER_POLL_INTERVAL": "0.5", "SLUICE_RELAYER_CRASH_AT": "after_mint"}
    )
    assert (config.relayer.poll_interval, config.relayer.crash_at) == (0.5, "after_mint")
    with pytest.raises(ConfigError, match="poll_interval must be > 0"):
        load_config(environ={"SLUICE_RELAYER_POLL_INTERVAL": "0"})
