"""The restaking contracts sit at their fixed addresses as genesis deploys them, name each other
and the Bridge, and refuse settings that cannot work."""

import dataclasses

import pytest
from eth_utils import to_checksum_address

from restaking.deploy import blueprint_deploy_code, deploy_payloads
from sidechain.predeploys import BRIDGE_ADDRESS, USDT_ADDRESS

from .conftest import ADDRESSES, PARAMS


def test_contracts_name_each_other_at_their_fixed_addresses(restaking, bridge):
    as_text = to_checksum_address
    assert restaking.btc.call("asset") == "0x" + "00" * 20
    assert restaking.usdt.call("asset") == as_text(USDT_ADDRESS)
    assert restaking.btc.call("court") == as_text(ADDRESSES.court)
    assert restaking.court.call("usdt_vault") == as_text(ADDRESSES.usdt_vault)
    assert restaking.court.call("bridge") == as_text(BRIDGE_ADDRESS)
    assert restaking.registry.call("bridge") == as_text(BRIDGE_ADDRESS)
    assert bridge.call("court") == as_text(ADDRESSES.court)
    assert (bridge.call("btc_vault"), bridge.call("usdt_vault")) == (
        as_text(ADDRESSES.btc_vault),
        as_text(ADDRESSES.usdt_vault),
    )
    assert restaking.btc.call("unbonding_blocks") == PARAMS.unbonding_blocks
    assert (restaking.usdt.call("name"), restaking.usdt.call("symbol")) == (
        "Restaked USDT",
        "rsUSDT",
    )


def test_blueprint_code_is_erc5202():
    assert blueprint_deploy_code(b"\x00").endswith(b"\xfe\x71\x00\x00")


@pytest.mark.parametrize(
    ("change", "address", "reason"),
    [
        ({"unbonding_blocks": 0}, ADDRESSES.btc_vault, "unbonding delay is zero"),
        ({"registry_delay": 0}, ADDRESSES.registry, "delay is zero"),
        ({"slash_bps": 0}, ADDRESSES.court, "slash out of range 1..10000"),
        ({"reward_bps": 10_001}, ADDRESSES.court, "reward above 10000 basis points"),
        ({"voting_blocks": 0}, ADDRESSES.court, "voting period is zero"),
        (
            {"claim_window": PARAMS.unbonding_blocks - PARAMS.voting_blocks},
            ADDRESSES.court,
            "vault unbonding not longer than claim window plus voting period",
        ),
        (
            {"min_bond_wei": 10**10 + 1},
            ADDRESSES.court,
            "minimum bond must be a positive multiple of 10**10 wei",
        ),
    ],
)
def test_constructors_refuse_unworkable_settings(evm, change, address, reason):
    params = dataclasses.replace(PARAMS, **change)
    for target, payload in deploy_payloads(params, BRIDGE_ADDRESS, USDT_ADDRESS, ADDRESSES):
        result = evm.deploy_at(target, payload)
        if target == address:
            assert result.revert_reason == reason
            return
        assert result.success, result.revert_reason
    raise AssertionError(f"no payload for {address.hex()}")
