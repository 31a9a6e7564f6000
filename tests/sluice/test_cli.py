"""The `sluice` command: subcommands listed, bitcoind located, the devnet starts and stops."""

import json

from eth_utils import to_checksum_address

from regtest.binaries import Binaries
from regtest.util import free_port
from sidechain.predeploys import BRIDGE_ADDRESS
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


def test_devnet_starts_bitcoind_and_the_node_and_survives_a_restart(tmp_path, bitcoind_binaries):
    ports = {"bitcoind": free_port(), "node": free_port()}
    args = (
        "devnet",
        "--workdir",
        str(tmp_path),
        "--bitcoind-rpc-port",
        str(ports["bitcoind"]),
        "--node-rpc-port",
        str(ports["node"]),
        "--no-wait",
    )
    first = sluice(*args)
    assert first.returncode == 0, first.stderr
    status = json.loads(first.stdout)
    assert status["bitcoind"]["height"] == 101
    assert status["bitcoind"]["wallet_balance_btc"] == "50.00000000"
    assert status["node"]["chain_id"] == 5151
    manifest = json.loads((tmp_path / "devnet.json").read_text())
    assert manifest["bitcoind"]["rpc_url"] == f"http://127.0.0.1:{ports['bitcoind']}"
    assert manifest["node"]["rpc_url"] == f"http://127.0.0.1:{ports['node']}"
    assert manifest["contracts"]["Bridge"]["address"] == to_checksum_address(BRIDGE_ADDRESS)
    assert any(entry["name"] == "withdraw" for entry in manifest["contracts"]["Bridge"]["abi"])
    assert len(manifest["demo_accounts"]) == 10
    assert (tmp_path / "logs" / "node.log").exists()

    second = sluice(*args)
    assert second.returncode == 0, second.stderr
    restarted = json.loads(second.stdout)
    assert restarted["bitcoind"]["tip"] == status["bitcoind"]["tip"]
    assert (
        json.loads((tmp_path / "devnet.json").read_text())["demo_accounts"]
        == (manifest["demo_accounts"])
    )
