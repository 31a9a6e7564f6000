"""/v1/contracts, /v1/fees, /v1/status with a real bitcoind and `sluice node run`, and without."""

from typing import Any

from eth_utils import to_checksum_address

from bridge.ledger import Ledger
from bridge.ledger.testing import deposit
from relayer.api.bridge_state import member_address
from sidechain import predeploys
from sidechain.contracts.artifacts import load_artifact
from sluice.processes import json_rpc
from tests.relayer.api.support import FEDERATION_KEYS, get_json


async def test_contracts_give_chain_id_rpc_url_addresses_and_abis(live_client, sidechain_node):
    status, body = await get_json(live_client, "/v1/contracts")
    assert status == 200
    assert body["chain_id"] == 5151 and body["rpc_url"] == sidechain_node
    by_name = {contract["name"]: contract for contract in body["contracts"]}
    assert by_name["Bridge"]["address"] == to_checksum_address(predeploys.BRIDGE_ADDRESS)
    assert by_name["Bridge"]["abi"] == list(load_artifact("Bridge").abi)
    assert any(entry.get("name") == "withdraw" for entry in by_name["Bridge"]["abi"])
    assert by_name["USDT"]["address"] == to_checksum_address(predeploys.USDT_ADDRESS)
    assert body["asset_ids"] == {"BTC": 0, "USDT": 1}


async def test_status_reports_tips_lag_members_and_solvency(
    live_client, write, bitcoind, sidechain_node
):
    signer = member_address(FEDERATION_KEYS[0])

    def seed(ledger: Ledger) -> None:
        tip = bitcoind.getblockcount()
        ledger.blocks.connect(tip - 3, bitcoind.getblockhash(tip - 3), "00" * 32)
        ledger.signatures.add("attestation", "x:0", signer, b"\x01" * 65)
        deposit(ledger)

    write(seed)
    head_before = int(json_rpc(sidechain_node, "eth_blockNumber"), 16)
    status, body = await get_json(live_client, "/v1/status")
    head_after = int(json_rpc(sidechain_node, "eth_blockNumber"), 16)
    assert status == 200
    assert body["bitcoin"]["reachable"] and body["bitcoin"]["tip"] == bitcoind.getblockcount()
    sidechain = body["sidechain"]
    assert (sidechain["reachable"], sidechain["chain_id"]) == (True, 5151)
    assert head_before <= sidechain["head"] <= head_after  # the node's head while we asked
    assert body["relayer"]["bitcoin_lag_blocks"] == 3
    live = {member["public_key"]: member["live"] for member in body["federation"]["members"]}
    assert live == {FEDERATION_KEYS[0]: True, FEDERATION_KEYS[1]: False, FEDERATION_KEYS[2]: False}
    assert body["federation"]["live"] == 1 and body["federation"]["threshold"] == 2
    usdt = next(row for row in body["solvency"] if row["asset"] == "USDT")
    assert usdt["sidechain_supply"] == 0 and usdt["balanced"] is True
    assert body["counts"]["deposits"] == {"seen": 1}
    assert body["paused"] is False


async def test_status_reports_the_stake_behind_the_federation(live_client, sidechain_node):
    """The economic security: each member's stake as the vaults hold it (the dev genesis stakes
    1 BTC per member), the vaults' totals against the audited holdings, ratios in bps."""
    status, body = await get_json(live_client, "/v1/status")
    assert status == 200
    security = body["security"]
    members = view(sidechain_node, "Bridge", predeploys.BRIDGE_ADDRESS, "members")
    btc_vault, usdt_vault = predeploys.BTC_VAULT_ADDRESS, predeploys.USDT_VAULT_ADDRESS
    shown = [(op["operator"], op["active"], op["btc_stake"]) for op in security["operators"]]
    assert shown == [
        (
            to_checksum_address(m),
            True,
            view(sidechain_node, "RestakingVault", btc_vault, "stake_of", m),
        )
        for m in members
    ]
    assert all(op["btc_stake"] > 0 for op in security["operators"])
    btc, usdt = security["btc"], security["usdt"]
    assert btc["stake"] == view(sidechain_node, "RestakingVault", btc_vault, "active_stake")
    assert usdt["stake"] == view(sidechain_node, "RestakingVault", usdt_vault, "active_stake")
    assert btc["stake"] >= sum(op["btc_stake"] for op in security["operators"])
    for asset in (btc, usdt):
        assert isinstance(asset["held"], int)  # the audit's holdings on Bitcoin
        assert asset["ratio_bps"] == ratio(asset["stake"], asset["held"])
    for op in security["operators"]:
        assert op["btc_ratio_bps"] == ratio(op["btc_stake"], btc["held"])
        assert op["usdt_ratio_bps"] == ratio(op["usdt_stake"], usdt["held"])


def ratio(stake: int, held: int) -> int | None:
    return stake * 10_000 // held if held else None


def view(node_url: str, contract: str, address: bytes, function: str, *args: Any) -> Any:
    """One view of a predeployed contract at the node's head."""
    artifact = load_artifact(contract)
    call = {
        "to": to_checksum_address(address),
        "data": "0x" + artifact.calldata(function, *args).hex(),
    }
    raw = json_rpc(node_url, "eth_call", call, "latest")
    (value,) = artifact.decode_output(function, bytes.fromhex(raw[2:]))
    return value


async def test_fees_give_bridge_fee_and_bitcoind_estimates(live_client):
    status, body = await get_json(live_client, "/v1/fees")
    assert status == 200
    assert body["bridge_fee"] == {"deposit_bps": 0, "withdrawal_bps": 0}
    assert [row["target_blocks"] for row in body["bitcoin_fee_estimates"]] == [1, 6, 144]


async def test_without_node_and_bitcoind_status_degrades_and_the_rest_is_503(api_client):
    status, body = await get_json(api_client, "/v1/status")
    assert status == 200
    assert body["bitcoin"] == {"network": "regtest", "reachable": False, "tip": None}
    assert body["sidechain"] == {"reachable": False, "head": None, "chain_id": None}
    assert body["relayer"]["bitcoin_lag_blocks"] is None
    assert body["security"] is None  # the stake is read from the node
    for path, upstream in (("/v1/contracts", "sidechain node"), ("/v1/fees", "bitcoind")):
        status, body = await get_json(api_client, path)
        assert status == 503 and body["error"]["code"] == "upstream_unavailable"
        assert body["error"]["message"].startswith(f"{upstream} is unreachable")
