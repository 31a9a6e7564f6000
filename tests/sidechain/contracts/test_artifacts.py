"""The committed artifacts are what the sources compile to, and deploy as documented."""

import dataclasses
import hashlib

import pytest
from eth_utils import keccak

from sidechain.contracts import build
from sidechain.contracts.artifacts import CONTRACT_NAMES, load_artifact, source_path
from sidechain.contracts.errors import ArtifactMismatch, UnknownContract, UnknownMember
from sidechain.predeploys import (
    BRIDGE_ADDRESS,
    BTC_VAULT_ADDRESS,
    COURT_ADDRESS,
    USDT_ADDRESS,
    USDT_VAULT_ADDRESS,
)


@pytest.mark.parametrize("name", CONTRACT_NAMES)
def test_committed_artifact_equals_a_fresh_compile(name):
    assert load_artifact(name) == build.compile_artifact(name)


def test_build_check_passes_on_the_committed_artifacts(capsys):
    assert build.main(["--check"]) == 0
    assert capsys.readouterr().out == "".join(f"{name}: up to date\n" for name in CONTRACT_NAMES)


def test_build_check_names_the_stale_field(monkeypatch):
    stale = dataclasses.replace(load_artifact("USDT"), runtime_bytecode=b"\x00")
    monkeypatch.setattr(build, "load_artifact", lambda name: stale)
    with pytest.raises(ArtifactMismatch, match="its runtime_bytecode differs") as caught:
        build.check_artifact("USDT")
    assert caught.value.field == "runtime_bytecode"


@pytest.mark.parametrize("name", CONTRACT_NAMES)
def test_artifact_records_compiler_target_and_source_hash(name):
    artifact = load_artifact(name)
    assert (artifact.name, artifact.compiler_version, artifact.evm_version) == (
        name,
        "0.4.3",
        "cancun",
    )
    assert artifact.source_sha256 == hashlib.sha256(source_path(name).read_bytes()).hexdigest()
    assert artifact.runtime_bytecode and artifact.init_bytecode


def test_unknown_contract_name_is_refused():
    with pytest.raises(UnknownContract, match="unknown contract 'Token'"):
        load_artifact("Token")


def test_deploy_code_appends_the_abi_encoded_constructor_arguments():
    usdt = load_artifact("USDT")
    assert usdt.constructor_types == ("address",)
    assert usdt.deploy_code(BRIDGE_ADDRESS) == usdt.init_bytecode + BRIDGE_ADDRESS.rjust(
        32, b"\x00"
    )
    assert load_artifact("Bridge").constructor_types == (
        "address[]",
        "uint256",
        "address",
        "address",
        "address",
        "address",
        "uint256",
    )


def test_calldata_and_decode_output_follow_the_abi(bridge, federation):
    bridge_artifact = load_artifact("Bridge")
    data = bridge_artifact.calldata("federation", 1)
    assert data == keccak(text="federation(uint256)")[:4] + (1).to_bytes(32, "big")
    raw = bridge.evm.view(bridge.address, data).output
    assert bridge_artifact.decode_output("federation", raw) == (federation.addresses[1].lower(),)
    with pytest.raises(UnknownMember, match="Bridge has no function 'mint'"):
        bridge_artifact.calldata("mint", 1)


def test_decode_event_names_the_event_and_its_arguments(bridge, users):
    result = bridge.transact(
        users[0], "withdraw", 0, 10_000, "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080",
        value=10_000 * 10**10,
    )  # fmt: skip
    _, topics, data = result.computation.get_log_entries()[0]
    name, args = load_artifact("Bridge").decode_event([t.to_bytes(32, "big") for t in topics], data)
    assert name == "WithdrawalRequested"
    assert args["withdrawal_id"] == 1 and args["sender"] == users[0].address.lower()
    assert load_artifact("USDT").decode_event([b"\x00" * 32], b"") is None


def test_storage_slot_names_variables_map_entries_and_array_elements(usdt, bridge, evm):
    artifact = load_artifact("USDT")
    slot = artifact.storage_slot("balanceOf", BRIDGE_ADDRESS)
    evm.state.set_storage(USDT_ADDRESS, slot, 1234)
    assert usdt.call("balanceOf", "0x" + BRIDGE_ADDRESS.hex()) == 1234
    shard = artifact.storage_slot("supply_shards", 7)
    assert shard == artifact.storage_layout["supply_shards"]["slot"] + 7
    assert bridge.call("threshold") == 2
    with pytest.raises(UnknownMember, match="no storage variable 'supply'"):
        artifact.storage_slot("supply")


@pytest.mark.parametrize(("contract", "immutables"), [("usdt", 1), ("bridge", 6)])
def test_deployed_code_is_the_runtime_bytecode_followed_by_immutables(
    request, evm, contract, immutables
):
    deployed = request.getfixturevalue(contract)
    code = evm.state.get_code(deployed.address)
    runtime = deployed.artifact.runtime_bytecode
    assert code.startswith(runtime)
    assert len(code) == len(runtime) + 32 * immutables


MEMBER_1 = "0x" + "11" * 20
MEMBER_2 = "0x" + "22" * 20


@pytest.mark.parametrize(
    ("members", "quorum", "reason"),
    [
        ([MEMBER_1, MEMBER_2], 0, "threshold out of range 1..members"),
        ([MEMBER_1, MEMBER_2], 3, "threshold out of range 1..members"),
        ([MEMBER_1, MEMBER_1], 1, "duplicate federation member"),
        ([MEMBER_1, "0x" + "00" * 20], 1, "federation member is the zero address"),
    ],
)
def test_bridge_constructor_refuses_a_bad_federation(evm, members, quorum, reason):
    init = load_artifact("Bridge").deploy_code(
        members, quorum, USDT_ADDRESS, COURT_ADDRESS, BTC_VAULT_ADDRESS, USDT_VAULT_ADDRESS, 10
    )
    result = evm.deploy_at(BRIDGE_ADDRESS, init)
    assert result.revert_reason == reason
    assert evm.state.get_code(BRIDGE_ADDRESS) == b""
