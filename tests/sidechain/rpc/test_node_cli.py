"""`sluice node init|run`: what they write, and how they refuse (message, exit status 2)."""

import json
import socket

from eth_account import Account

from tests.support.cli import sluice

GENESIS = """
chain_id = 777
block_interval = 0.2
dev = true

[federation]
members = [
    "0x1111111111111111111111111111111111111111",
    "0x2222222222222222222222222222222222222222",
]
threshold = 2

[[accounts]]
address = "0x3333333333333333333333333333333333333333"
balance = "123000000000000000000"
"""


def test_init_dev_writes_funded_keys(tmp_path):
    result = sluice("node", "init", "--dev", "--datadir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    entries = json.loads((tmp_path / "dev-accounts.json").read_text())
    assert len(entries) == 10
    for entry in entries:
        assert Account.from_key(entry["private_key"]).address == entry["address"]


def test_init_refuses_to_overwrite_a_chain(tmp_path):
    assert sluice("node", "init", "--dev", "--datadir", str(tmp_path)).returncode == 0
    again = sluice("node", "init", "--dev", "--datadir", str(tmp_path))
    assert again.returncode == 2
    assert "already holds a chain" in again.stderr


def test_init_from_a_genesis_file_then_run(tmp_path, node_process):
    genesis = tmp_path / "genesis.toml"
    genesis.write_text(GENESIS)
    datadir = tmp_path / "data"
    result = sluice("node", "init", "--genesis", str(genesis), "--datadir", str(datadir))
    assert result.returncode == 0, result.stderr
    node = node_process(datadir)
    assert node.rpc("eth_chainId") == hex(777)
    balance = node.rpc("eth_getBalance", "0x" + "33" * 20, "latest")
    assert int(balance, 16) == 123 * 10**18


def test_run_without_init_says_to_init(tmp_path):
    result = sluice("node", "run", "--datadir", str(tmp_path), "--rpc-port", "0")
    assert result.returncode == 2
    assert "run `sluice node init` first" in result.stderr


def test_run_on_a_busy_port_says_so(tmp_path):
    assert sluice("node", "init", "--dev", "--datadir", str(tmp_path)).returncode == 0
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = sluice("node", "run", "--datadir", str(tmp_path), "--rpc-port", str(port))
    assert result.returncode == 2
    assert f"cannot serve JSON-RPC on 127.0.0.1:{port}" in result.stderr
