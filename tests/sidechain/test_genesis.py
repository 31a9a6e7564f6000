"""Genesis files: parsing, the genesis state with every predeploy (bridge, restaking, lending)
and the genesis calls (markets listed, dev operators staked), and `node init` (also --dev)."""

import json

import pytest
from eth_abi import decode
from eth_account import Account
from eth_utils import to_canonical_address

from lending.deploy import DEFAULT_MARKETS
from sidechain.contracts import load_artifact
from sidechain.datadir import init_dev, init_from_file
from sidechain.errors import GenesisError, NotInitialized, StoreError
from sidechain.genesis import (
    DEFAULT_MAX_DEVIATION_BPS,
    DEV_RESTAKING,
    PRODUCTION_RESTAKING,
    Genesis,
)
from sidechain.node import Node
from sidechain.predeploys import (
    BRIDGE_ADDRESS,
    BTC_VAULT_ADDRESS,
    COURT_ADDRESS,
    LENDING_PURSE_BLUEPRINT_ADDRESS,
    LEVERAGE_ACCOUNT_BLUEPRINT_ADDRESS,
    LEVERAGE_ROUTER_ADDRESS,
    ORACLE_ADDRESS,
    POOL_ADDRESS,
    REGISTRY_ADDRESS,
    USDT_ADDRESS,
    USDT_VAULT_ADDRESS,
)
from sidechain.views import CallRequest

MEMBERS = [Account.create().address for _ in range(3)]
FUNDED = "0x" + "ab" * 20
GOVERNANCE = "0x" + "cd" * 20
PREDEPLOYS = (
    BRIDGE_ADDRESS,
    USDT_ADDRESS,
    REGISTRY_ADDRESS,
    BTC_VAULT_ADDRESS,
    USDT_VAULT_ADDRESS,
    COURT_ADDRESS,
    ORACLE_ADDRESS,
    LENDING_PURSE_BLUEPRINT_ADDRESS,
    POOL_ADDRESS,
    LEVERAGE_ACCOUNT_BLUEPRINT_ADDRESS,
    LEVERAGE_ROUTER_ADDRESS,
)

GENESIS_TOML = f"""
chain_id = 777
gas_limit = 25_000_000
base_fee = 2_000_000_000
timestamp = 1_700_000_000
block_interval = 1.5

[federation]
members = {json.dumps(MEMBERS)}
threshold = 2

[[accounts]]
address = "{FUNDED}"
balance = "5000000000000000000"

[bridge]
withdrawal_fee_bps = 25

[restaking]
claim_window = 30
voting_blocks = 15
unbonding_blocks = 60

[lending]
governance = "{GOVERNANCE}"
max_price_age = 600
"""


def _view(node, address, signature, types=(), args=(), returns="uint256"):
    from eth_abi import encode
    from eth_utils import keccak

    data = keccak(text=signature)[:4] + encode(list(types), list(args))
    return decode([returns], node.call(CallRequest(to=address, data=data), 0))[0]


@pytest.fixture
def genesis_node(tmp_path):
    path = tmp_path / "genesis.toml"
    path.write_text(GENESIS_TOML)
    init_from_file(path, tmp_path / "node")
    node = Node.open(tmp_path / "node")
    yield node
    node.close()


def test_genesis_file_sets_chain_accounts_and_header(genesis_node):
    header = genesis_node.head().header
    assert genesis_node.chain_id == 777
    assert header.block_number == 0
    assert header.gas_limit == 25_000_000
    assert header.base_fee_per_gas == 2_000_000_000
    assert header.timestamp == 1_700_000_000
    assert genesis_node.block_interval == 1.5
    assert genesis_node.balance(to_canonical_address(FUNDED), 0) == 5 * 10**18


def test_bridge_and_usdt_are_predeployed_with_the_federation(genesis_node):
    assert genesis_node.code(BRIDGE_ADDRESS, 0)
    assert genesis_node.code(USDT_ADDRESS, 0)
    assert _view(genesis_node, BRIDGE_ADDRESS, "threshold()") == 2
    for index, member in enumerate(MEMBERS):
        found = _view(genesis_node, BRIDGE_ADDRESS, "federation(uint256)", ["uint256"], [index],
                      "address")  # fmt: skip
        assert found.lower() == member.lower()
    assert _view(genesis_node, BRIDGE_ADDRESS, "usdt()", returns="address").lower() == (
        "0x" + USDT_ADDRESS.hex()
    )
    assert _view(genesis_node, USDT_ADDRESS, "bridge()", returns="address").lower() == (
        "0x" + BRIDGE_ADDRESS.hex()
    )
    assert _view(genesis_node, USDT_ADDRESS, "decimals()", returns="uint8") == 8


def test_threshold_above_member_count_is_refused():
    with pytest.raises(GenesisError, match="threshold"):
        Genesis.from_mapping({"chain_id": 1, "federation": {"members": MEMBERS, "threshold": 4}})


def test_bad_member_address_is_refused():
    with pytest.raises(GenesisError, match="not a hex address"):
        Genesis.from_mapping({"chain_id": 1, "federation": {"members": ["0x12"], "threshold": 1}})


def test_missing_chain_id_is_refused():
    with pytest.raises(GenesisError, match="chain_id"):
        Genesis.from_mapping({"dev": True, "federation": {"members": MEMBERS, "threshold": 1}})


def test_unknown_entry_is_refused():
    with pytest.raises(GenesisError, match="colour"):
        Genesis.from_mapping(
            {"chain_id": 1, "colour": "red", "federation": {"members": MEMBERS, "threshold": 1}}
        )


def test_invalid_toml_is_refused(tmp_path):
    path = tmp_path / "genesis.toml"
    path.write_text("chain_id = = 3")
    with pytest.raises(GenesisError, match="not valid TOML"):
        Genesis.load(path)


def test_init_refuses_to_overwrite_a_chain(tmp_path):
    init_dev(tmp_path / "node", accounts=1)
    with pytest.raises(StoreError, match="already holds a chain"):
        init_dev(tmp_path / "node", accounts=1)


def test_opening_an_empty_datadir_says_to_init(tmp_path):
    with pytest.raises(NotInitialized, match="sluice node init"):
        Node.open(tmp_path / "empty")


def test_dev_init_writes_funded_accounts_with_their_keys(tmp_path):
    genesis, _ = init_dev(tmp_path / "node", accounts=5)
    written = json.loads((tmp_path / "node" / "dev-accounts.json").read_text())
    assert len(written) == 5
    assert all(set(entry) == {"address", "private_key"} for entry in written)
    assert [Account.from_key(e["private_key"]).address for e in written] == [
        e["address"] for e in written
    ]
    node = Node.open(tmp_path / "node")
    try:
        assert node.dev
        for entry in written:
            assert node.balance(to_canonical_address(entry["address"]), 0) > 0
        assert genesis.threshold == 2 and len(genesis.federation) == 3
    finally:
        node.close()


def test_every_predeploy_is_placed_with_the_genesis_settings(genesis_node):
    for address in PREDEPLOYS:
        assert genesis_node.code(address, 0), address.hex()
    assert _view(genesis_node, BRIDGE_ADDRESS, "withdrawal_fee_bps()") == 25
    assert _view(genesis_node, BRIDGE_ADDRESS, "court()", returns="address") == (
        "0x" + COURT_ADDRESS.hex()
    )
    assert _view(genesis_node, COURT_ADDRESS, "claim_window()") == 30
    assert _view(genesis_node, COURT_ADDRESS, "voting_blocks()") == 15
    assert _view(genesis_node, BTC_VAULT_ADDRESS, "unbonding_blocks()") == 60
    # production defaults for what the file leaves out
    assert _view(genesis_node, REGISTRY_ADDRESS, "delay()") == (
        PRODUCTION_RESTAKING.params.registry_delay
    )
    assert _view(genesis_node, POOL_ADDRESS, "governance()", returns="address") == GOVERNANCE
    assert _view(genesis_node, ORACLE_ADDRESS, "max_age()") == 600
    assert _view(genesis_node, ORACLE_ADDRESS, "max_deviation_bps()") == DEFAULT_MAX_DEVIATION_BPS
    # the governance key listed the markets; no operator stake outside a dev chain
    listed = genesis_node.call(
        CallRequest(to=POOL_ADDRESS, data=load_artifact("LendingPool").calldata("markets", 1)), 0
    )
    assert load_artifact("LendingPool").decode_output("markets", listed) == (
        DEFAULT_MARKETS[1].as_tuple(),
    )
    assert _view(genesis_node, REGISTRY_ADDRESS, "operators()", returns="address[]") == ()


DEV_TOML = f"""
chain_id = 778
dev = true

[federation]
members = {json.dumps(MEMBERS)}
threshold = 2
"""


@pytest.mark.parametrize("source", ["--dev", "a dev genesis file"])
def test_a_dev_chain_starts_with_staked_operators_and_short_windows(tmp_path, source):
    if source == "--dev":
        genesis, _ = init_dev(tmp_path / "node", accounts=1)
    else:  # what `sluice federation init` writes: members and threshold only
        (tmp_path / "genesis.toml").write_text(DEV_TOML)
        genesis = init_from_file(tmp_path / "genesis.toml", tmp_path / "node")
    node = Node.open(tmp_path / "node")
    try:
        operators = _view(node, REGISTRY_ADDRESS, "operators()", returns="address[]")
        assert [to_canonical_address(o) for o in operators] == list(genesis.federation)
        for member in genesis.federation:
            stake = _view(node, BTC_VAULT_ADDRESS, "stake_of(address)", ["address"], [member])
            assert stake == DEV_RESTAKING.operator_stake_sats
            assert _view(node, REGISTRY_ADDRESS, "is_active(address)", ["address"], [member],
                         "bool")  # fmt: skip
        assert _view(node, COURT_ADDRESS, "claim_window()") == DEV_RESTAKING.params.claim_window
        governance = _view(node, POOL_ADDRESS, "governance()", returns="address")
        assert to_canonical_address(governance) == genesis.federation[0]
    finally:
        node.close()


def test_the_genesis_settings_survive_the_data_directory(genesis_node):
    again = Genesis.from_json(genesis_node.genesis.to_json())
    assert again == genesis_node.genesis
    assert again.restaking.params.claim_window == 30
    assert again.lending_params.governance == to_canonical_address(GOVERNANCE)


@pytest.mark.parametrize(
    ("table", "entry", "match"),
    [
        ("restaking", {"unbonding_blocks": 10}, "must exceed claim_window"),
        ("restaking", {"min_bond_wei": 5}, "whole number of sats"),
        ("restaking", {"slash_bps": 0}, "slash_bps out of 1..10000"),
        ("restaking", {"colour": 1}, "unknown genesis entry restaking.colour"),
        ("bridge", {"withdrawal_fee_bps": 10_000}, "withdrawal_fee_bps out of 0..9999"),
        ("lending", {"max_deviation_bps": 0}, "max_deviation_bps out of 1..10000"),
    ],
)
def test_unworkable_settings_are_refused(table, entry, match):
    raw = {
        "chain_id": 1,
        "dev": True,
        "federation": {"members": MEMBERS, "threshold": 1},
        table: entry,
    }
    with pytest.raises(GenesisError, match=match):
        Genesis.from_mapping(raw)


def test_a_production_genesis_must_name_its_lending_governance():
    with pytest.raises(GenesisError, match=r"lending\.governance"):
        Genesis.from_mapping({"chain_id": 1, "federation": {"members": MEMBERS, "threshold": 1}})
