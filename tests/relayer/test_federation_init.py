"""`sluice federation init`: per-member keys (0600) and configs, and the public description."""

import json
import subprocess
import sys
from pathlib import Path

from relayer.keys import load_member_keys
from sluice.config import VaultConfig, load_config


def sluice(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sluice.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_init_writes_each_members_keys_and_config_and_the_public_file(tmp_path: Path) -> None:
    result = sluice(
        "federation",
        "init",
        "--members",
        "3",
        "--threshold",
        "2",
        "--dir",
        str(tmp_path),
        "--challenge-window-blocks",
        "3",
        "--usdt-property-id",
        "7",
    )
    assert result.returncode == 0, result.stderr
    public = json.loads((tmp_path / "federation.json").read_text())
    assert public["threshold"] == 2 and len(public["members"]) == 3
    ledgers = set()
    for member in public["members"]:
        folder = tmp_path / f"member-{member['member_id']}"
        assert (folder / "keys.json").stat().st_mode & 0o777 == 0o600
        assert (folder / "relayer.toml").stat().st_mode & 0o777 == 0o600
        config = load_config(folder / "relayer.toml")
        keys = load_member_keys(config.relayer)
        assert keys.address == member["evm_address"].lower()
        assert keys.bitcoin_public.hex() == member["bitcoin_public_key"]
        assert config.bridge.threshold == 2
        assert (config.bridge.challenge_window_blocks, config.bridge.usdt_property_id) == (3, 7)
        assert config.vault == VaultConfig()  # the policy, written out in full
        assert len(config.bridge.federation_pubkeys) == 3
        assert keys.address not in config.relayer.peer_addresses
        assert len(config.relayer.peer_urls) == 2
        ledgers.add(config.ledger.url)
        assert "private" not in result.stdout and keys.bitcoin.secret.hex() not in result.stdout
    assert len(ledgers) == 3  # members never share a database
    genesis = (tmp_path / "genesis.toml").read_text()
    assert all(m["evm_address"] in genesis for m in public["members"])


def test_the_genesis_it_writes_initialises_a_node(tmp_path: Path) -> None:
    assert sluice("federation", "init", "--dir", str(tmp_path / "f")).returncode == 0
    node = sluice(
        "node",
        "init",
        "--genesis",
        str(tmp_path / "f" / "genesis.toml"),
        "--datadir",
        str(tmp_path / "node"),
    )
    assert node.returncode == 0, node.stderr


def test_a_threshold_above_the_members_is_refused(tmp_path: Path) -> None:
    result = sluice(
        "federation", "init", "--members", "2", "--threshold", "3", "--dir", str(tmp_path)
    )
    assert result.returncode == 2
    assert "--threshold must be 1..2" in result.stderr and "got 3" in result.stderr
    assert not (tmp_path / "federation.json").exists()


def test_a_window_of_no_blocks_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    result = sluice("federation", "init", "--dir", str(tmp_path), "--challenge-window-blocks", "0")
    assert result.returncode == 2
    assert "bridge.challenge_window_blocks must be >= 1, got 0" in result.stderr
    assert not any(tmp_path.iterdir())


def test_an_existing_federation_is_not_overwritten(tmp_path: Path) -> None:
    assert sluice("federation", "init", "--dir", str(tmp_path)).returncode == 0
    before = (tmp_path / "federation.json").read_text()
    again = sluice("federation", "init", "--dir", str(tmp_path))
    assert again.returncode == 2 and "already holds a federation" in again.stderr
    assert (tmp_path / "federation.json").read_text() == before
