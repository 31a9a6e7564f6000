"""POST /v1/deposit-addresses: a real deposit script, recorded in the ledger; refusals named."""

from dataclasses import replace

from sqlalchemy.exc import IntegrityError

from bridge.bitcoin.deposit_script import DepositScript
from bridge.ledger.deposits import DepositAddressRepository
from tests.relayer.api.support import ADMIN_TOKEN, FEDERATION_KEYS, serve

RECIPIENT = "0x" + "11" * 20
REFUND_KEY = "02" + "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"


async def test_address_is_the_deposit_script_of_recipient_and_federation(api_client, write):
    response = await api_client.post("/v1/deposit-addresses", json={"evm_address": RECIPIENT})
    assert response.status == 201
    body = await response.json()
    script = DepositScript.create(RECIPIENT, FEDERATION_KEYS, 2)
    assert body["address"] == script.address("regtest")
    assert body["witness_script"] == script.witness_script.hex()
    assert body["federation"] == {"public_keys": sorted(FEDERATION_KEYS), "threshold": 2}
    assert body["minimum_amounts"] == {"BTC": 10_000, "USDT": 1_000_000}
    assert body["confirmations"] == 6
    assert body["created_at"].endswith("Z")
    stored = write(lambda ledger: ledger.deposit_addresses.get(body["address"]).recipient)
    assert stored == RECIPIENT


async def test_asking_again_returns_the_same_address_with_200(api_client):
    first = await api_client.post("/v1/deposit-addresses", json={"evm_address": RECIPIENT})
    again = await api_client.post(
        "/v1/deposit-addresses", json={"evm_address": RECIPIENT.upper().replace("0X", "0x")}
    )
    assert (first.status, again.status) == (201, 200)
    assert (await first.json())["address"] == (await again.json())["address"]


async def test_refund_key_adds_the_timeout_branch(api_client):
    response = await api_client.post(
        "/v1/deposit-addresses", json={"evm_address": RECIPIENT, "refund_pubkey": REFUND_KEY}
    )
    body = await response.json()
    assert response.status == 201
    assert body["refund_pubkey"] == REFUND_KEY
    assert body["refund_timeout_blocks"] == 144
    parsed = DepositScript.parse(bytes.fromhex(body["witness_script"]))
    assert parsed.refund_key == bytes.fromhex(REFUND_KEY) and parsed.timeout == 144


async def post_error(client, body, **kwargs):
    response = await client.post("/v1/deposit-addresses", json=body, **kwargs)
    return response.status, (await response.json())["error"]


async def test_bad_evm_address_is_refused_naming_the_field(api_client):
    status, error = await post_error(api_client, {"evm_address": "0x1234"})
    assert status == 400
    assert error["code"] == "invalid_parameter" and error["field"] == "evm_address"
    assert "0x1234" in error["message"] and "40 hex digits" in error["message"]


async def test_bad_eip55_checksum_is_refused(api_client):
    wrong = "0x" + "aB" * 20
    status, error = await post_error(api_client, {"evm_address": wrong})
    assert status == 400 and "checksum" in error["message"]


async def test_missing_and_unknown_fields_are_refused(api_client):
    assert (await post_error(api_client, {}))[1]["field"] == "evm_address"
    status, error = await post_error(api_client, {"evm_address": RECIPIENT, "memo": "x"})
    assert status == 400 and error["field"] == "memo" and "unknown field" in error["message"]


async def test_bad_refund_keys_are_refused(api_client):
    for key in ["02abc", "04" + "11" * 32, "02" + "ff" * 32, 5]:
        status, error = await post_error(
            api_client, {"evm_address": RECIPIENT, "refund_pubkey": key}
        )
        assert status == 400 and error["field"] == "refund_pubkey", key


async def test_body_must_be_a_json_object(api_client):
    for raw in [b"[1, 2]", b"{not json", b'"text"']:
        response = await api_client.post(
            "/v1/deposit-addresses", data=raw, headers={"Content-Type": "application/json"}
        )
        assert response.status == 400
        assert (await response.json())["error"]["code"] == "invalid_json"
    response = await api_client.post(
        "/v1/deposit-addresses", data=b"evm_address=0x", headers={"Content-Type": "text/plain"}
    )
    assert response.status == 415


async def test_no_federation_configured_is_a_clear_503(config):
    client = await serve(replace(config, bridge=replace(config.bridge, federation_pubkeys=())))
    try:
        status, error = await post_error(client, {"evm_address": RECIPIENT})
    finally:
        await client.close()
    assert status == 503 and error["code"] == "federation_not_configured"


async def test_paused_bridge_hands_out_no_address(api_client, write):
    paused = await api_client.post(
        "/v1/admin/pause",
        json={"reason": "drill"},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert paused.status == 200
    status, error = await post_error(api_client, {"evm_address": RECIPIENT})
    assert status == 503 and error["code"] == "bridge_paused"
    assert write(lambda ledger: ledger.deposit_addresses.addresses()) == set()


async def test_a_request_that_loses_the_insert_race_answers_with_the_address(
    api_client, write, monkeypatch
):
    """Two first requests for one address at once: the one whose insert the database refuses
    (the other's row won) runs again and answers with the address instead of a 500."""
    real_add = DepositAddressRepository.add
    refused = []

    def lose_the_race_once(self, *args, **kwargs):
        if not refused:
            refused.append(args[0])
            raise IntegrityError("INSERT INTO deposit_addresses", {}, Exception("duplicate key"))
        return real_add(self, *args, **kwargs)

    monkeypatch.setattr(DepositAddressRepository, "add", lose_the_race_once)
    response = await api_client.post("/v1/deposit-addresses", json={"evm_address": RECIPIENT})
    assert response.status == 201
    address = (await response.json())["address"]
    assert refused == [address]
    assert write(lambda ledger: ledger.deposit_addresses.get(address).recipient) == RECIPIENT
