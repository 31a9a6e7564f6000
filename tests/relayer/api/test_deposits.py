"""GET /v1/deposits and /v1/deposits/{txid:vout}: filters, stable pages, mint, rejection, errors."""

import base64
import json

from bridge.bitcoin.omni.payload import SimpleSend, op_return_script
from bridge.ledger import Asset, DepositStatus, Ledger, RejectReason
from bridge.ledger.testing import deposit, txid
from tests.relayer.api.support import get_json

RECIPIENT = "0x" + "22" * 20
OTHER = "0x" + "33" * 20
REFUND_KEY = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"


async def make_address(client, recipient=RECIPIENT, refund=None):
    body = {"evm_address": recipient} | ({"refund_pubkey": refund} if refund else {})
    response = await client.post("/v1/deposit-addresses", json=body)
    return (await response.json())["address"]


def pay(ledger: Ledger, address: str, n: int, asset=Asset.BTC, amount=50_000, property_id=None):
    return ledger.deposits.record_seen(
        txid=txid(1000 + n),
        vout=n % 4,
        asset=asset,
        amount=amount,
        deposit_address=address,
        block_height=200 + n,
        block_hash=txid(5000 + n),
        confirmations=2,
        omni_property_id=property_id,
    ).id


async def test_minted_deposit_shows_its_mint_and_confirmations(api_client, write):
    address = await make_address(api_client)

    def minted(ledger: Ledger) -> str:
        deposit_id = pay(ledger, address, 1)
        ledger.deposits.set_confirmations(deposit_id, 6)
        for status in (DepositStatus.CONFIRMED, DepositStatus.ATTESTED):
            ledger.deposits.move(deposit_id, status)
        ledger.deposits.mark_minted(deposit_id, "0x" + "ab" * 32, 17)
        return deposit_id

    deposit_id = write(minted)
    status, body = await get_json(api_client, f"/v1/deposits/{deposit_id.upper()}")
    assert status == 200
    assert body["id"] == deposit_id and body["status"] == "minted"
    assert body["confirmations"] == 6 and body["required_confirmations"] == 6
    assert body["mint"] == {"tx_hash": "0x" + "ab" * 32, "block": 17}
    assert body["rejection"] is None and body["evm_address"] == RECIPIENT


async def test_rejected_deposit_says_why_and_how_to_refund_with_the_key(api_client, write):
    address = await make_address(api_client, refund=REFUND_KEY)

    def rejected(ledger: Ledger) -> str:
        deposit_id = pay(ledger, address, 2, amount=500)
        ledger.deposits.reject(
            deposit_id, RejectReason.BELOW_MINIMUM, "500 sats is below the minimum of 10000"
        )
        return deposit_id

    deposit_id = write(rejected)
    _, body = await get_json(api_client, f"/v1/deposits/{deposit_id}")
    rejection = body["rejection"]
    assert body["status"] == "rejected" and rejection["reason"] == "below_minimum"
    assert "below the bridge's minimum" in rejection["explanation"]
    assert rejection["detail"] == "500 sats is below the minimum of 10000"
    refund = rejection["refund"]
    assert refund["method"] == "refund_key"
    assert refund["spendable_from_height"] == body["block_height"] + 144
    assert refund["witness_script"] and "OP_ELSE" in refund["instructions"]
    assert refund["omni_send"] is None  # BTC: the output's sats are the whole deposit
    _, listed = await get_json(api_client, "/v1/deposits?status=rejected")
    assert [item["rejection"]["detail"] for item in listed["items"]] == [rejection["detail"]]


async def test_rejected_usdt_deposit_refund_carries_the_omni_send_of_its_tokens(api_client, write):
    """The tokens sit in the deposit address's Omni balance, not in the output: the advice
    names the simple send that returns them (as deposit_spend.build_refund builds it)."""
    address = await make_address(api_client, refund=REFUND_KEY)

    def rejected(ledger: Ledger) -> str:
        deposit_id = pay(ledger, address, 4, Asset.USDT, 7 * 10**8, property_id=4)
        ledger.deposits.reject(deposit_id, RejectReason.UNKNOWN_PROPERTY)
        return deposit_id

    _, body = await get_json(api_client, f"/v1/deposits/{write(rejected)}")
    refund = body["rejection"]["refund"]
    assert refund["omni_send"] == {
        "property_id": 4,
        "amount": 7 * 10**8,
        "op_return": op_return_script(SimpleSend(4, 7 * 10**8)).hex(),
    }
    assert "only input" in refund["instructions"]
    assert "Omni sender" in refund["instructions"]
    assert "omni_send.op_return" in refund["instructions"]


async def test_rejected_deposit_without_refund_key_needs_the_federation(api_client, write):
    address = await make_address(api_client)

    def rejected(ledger: Ledger) -> str:
        deposit_id = pay(ledger, address, 3)
        ledger.deposits.reject(deposit_id, RejectReason.BAD_SCRIPT)
        return deposit_id

    _, body = await get_json(api_client, f"/v1/deposits/{write(rejected)}")
    assert body["rejection"]["refund"]["method"] == "federation"
    assert body["rejection"]["refund"]["spendable_from_height"] is None
    assert "federation cannot spend this output" in body["rejection"]["explanation"]
    assert body["rejection"]["detail"] is None  # rejected without a message


async def test_list_filters_by_recipient_address_status_and_asset(api_client, write):
    mine = await make_address(api_client)
    theirs = await make_address(api_client, OTHER)

    def seed(ledger: Ledger) -> None:
        pay(ledger, mine, 10)
        pay(ledger, mine, 11, asset=Asset.USDT, amount=5_000_000)
        confirmed = pay(ledger, theirs, 12)
        ledger.deposits.move(confirmed, DepositStatus.CONFIRMED)

    write(seed)

    async def ids(query):
        status, body = await get_json(api_client, f"/v1/deposits?{query}")
        assert status == 200, body
        return [(item["evm_address"], item["asset"], item["status"]) for item in body["items"]]

    assert await ids(f"evm_address={RECIPIENT}") == [
        (RECIPIENT, "USDT", "seen"),
        (RECIPIENT, "BTC", "seen"),
    ]
    assert await ids(f"btc_address={theirs}") == [(OTHER, "BTC", "confirmed")]
    assert await ids("status=confirmed") == [(OTHER, "BTC", "confirmed")]
    assert await ids(f"asset=USDT&evm_address={RECIPIENT}") == [(RECIPIENT, "USDT", "seen")]
    assert await ids("status=minted") == []


async def test_pages_are_stable_while_new_deposits_arrive(api_client, write):
    write(lambda ledger: [deposit(ledger) for _ in range(7)])
    seen, cursor = [], None
    for page_number in range(10):
        query = "limit=3" + (f"&cursor={cursor}" if cursor else "")
        status, body = await get_json(api_client, f"/v1/deposits?{query}")
        assert status == 200 and len(body["items"]) <= 3
        seen += [item["id"] for item in body["items"]]
        if page_number == 0:
            write(lambda ledger: deposit(ledger))  # newer: must not shift the later pages
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 7 and len(set(seen)) == 7


async def expect_400(client, path, field, fragment):
    status, body = await get_json(client, path)
    assert status == 400, body
    assert body["error"]["code"] == "invalid_parameter"
    assert body["error"]["field"] == field
    assert fragment in body["error"]["message"]


async def test_every_bad_input_gets_a_precise_400(api_client):
    cases = [
        ("/v1/deposits/nothex:0", "deposit_id", "txid (64 hex digits)"),
        (f"/v1/deposits/{'ab' * 32}", "deposit_id", "txid:vout"),
        (f"/v1/deposits/{'ab' * 32}:x", "deposit_id", "vout must be an integer"),
        (f"/v1/deposits/{'ab' * 32}:4294967296", "deposit_id", "vout must be an integer"),
        ("/v1/deposits?limit=0", "limit", "1..1000"),
        ("/v1/deposits?limit=1001", "limit", "1..1000"),
        ("/v1/deposits?limit=ten", "limit", "1..1000"),
        ("/v1/deposits?cursor=bm90LWEtY3Vyc29y", "cursor", "not a cursor"),
        ("/v1/deposits?status=lost", "status", "must be one of seen"),
        ("/v1/deposits?asset=ETH", "asset", "BTC, USDT"),
        ("/v1/deposits?evm_address=0xzz", "evm_address", "EVM address"),
        ("/v1/deposits?btc_address=bc1qnotregtest", "btc_address", "regtest Bitcoin address"),
        ("/v1/deposits?recipient=0x", "recipient", "unknown parameter"),
    ]
    for path, field, fragment in cases:
        await expect_400(api_client, path, field, fragment)


async def test_unknown_deposit_is_404(api_client):
    status, body = await get_json(api_client, f"/v1/deposits/{'cd' * 32}:1")
    assert status == 404 and body["error"]["code"] == "not_found"
    assert f"{'cd' * 32}:1" in body["error"]["message"]


async def test_forged_cursor_with_an_out_of_range_key_is_400_not_500(api_client):
    raw = json.dumps(["2026-01-01T00:00:00+00:00", 10**30, "desc"]).encode()
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    response = await api_client.get(f"/v1/claims?cursor={cursor}")
    assert response.status == 400, await response.text()
    assert "out of the ledger's range" in (await response.json())["error"]["message"]
