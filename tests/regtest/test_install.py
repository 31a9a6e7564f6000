"""The bitcoind installer: takes an existing bitcoind when given one, is idempotent."""

import subprocess

import pytest

from regtest.binaries import INSTALLER, Binaries, install
from regtest.errors import BitcoindNotInstalled


def version(binaries: Binaries) -> str:
    result = subprocess.run([binaries.bitcoind, "-version"], capture_output=True, text=True)
    return result.stdout.splitlines()[0]


def test_an_existing_bitcoind_is_wrapped_not_downloaded(bitcoind_binaries: Binaries, tmp_path):
    wrapped = install(tmp_path, bitcoind=bitcoind_binaries.bitcoind)
    assert wrapped.bitcoind == tmp_path / "bin" / "bitcoind"
    assert str(bitcoind_binaries.bitcoind) in wrapped.bitcoind.read_text()
    assert version(wrapped) == version(bitcoind_binaries)
    assert not (tmp_path / "root").exists()


def test_second_run_finds_the_wrappers_and_does_nothing(bitcoind_binaries: Binaries, tmp_path):
    install(tmp_path, bitcoind=bitcoind_binaries.bitcoind)
    before = (tmp_path / "bin" / "bitcoind").stat().st_mtime_ns
    result = subprocess.run(
        ["bash", INSTALLER, "--dir", tmp_path], capture_output=True, text=True, check=True
    )
    assert "already installed" in result.stderr
    assert result.stdout.strip() == str(tmp_path / "bin")
    assert (tmp_path / "bin" / "bitcoind").stat().st_mtime_ns == before


def test_a_bitcoind_that_does_not_run_is_refused(tmp_path):
    fake = tmp_path / "bitcoind"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    with pytest.raises(BitcoindNotInstalled) as raised:
        install(tmp_path / "out", bitcoind=fake)
    assert f"{fake} does not run" in raised.value.output


def test_a_bitcoind_older_than_25_is_refused(tmp_path):
    old = tmp_path / "bitcoind"
    old.write_text("#!/bin/sh\necho 'Bitcoin Core version v24.0.1'\n")
    old.chmod(0o755)
    with pytest.raises(BitcoindNotInstalled) as raised:
        install(tmp_path / "out", bitcoind=old)
    assert "version 24; Sluice needs >= 25" in raised.value.output
