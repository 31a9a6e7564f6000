"""The `sluice` command: subcommands listed, bitcoind located (tests/relayer/devnet: devnet)."""

from regtest.binaries import Binaries
from sluice.cli import main
from tests.support.cli import sluice


def test_help_lists_the_subcommands():
    result = sluice("--help")
    assert result.returncode == 0
    for command in ("bitcoind", "devnet"):
        assert command in result.stdout


def test_bitcoind_path_prints_working_wrappers(bitcoind_binaries: Binaries, capsys):
    assert main(["bitcoind", "path"]) == 0
    out = capsys.readouterr().out
    assert f"bitcoind: {bitcoind_binaries.bitcoind}" in out
    assert f"bitcoin-cli: {bitcoind_binaries.bitcoin_cli}" in out


def test_bitcoind_path_without_install_is_a_clear_error(tmp_path, capsys):
    assert main(["bitcoind", "path", "--dir", str(tmp_path)]) == 2
    assert "run `sluice bitcoind install` first" in capsys.readouterr().err


def test_bitcoind_install_with_a_missing_binary_fails_clearly(tmp_path):
    result = sluice("bitcoind", "install", "--dir", str(tmp_path), "--bitcoind", "/nonexistent")
    assert result.returncode == 2
    assert "/nonexistent does not run" in result.stderr
