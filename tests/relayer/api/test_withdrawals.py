"""GET /v1/withdrawals and /v1/withdrawals/{id}: challenge window counted down, release, errors."""

from dataclasses import replace

from bridge.ledger import Ledger, ReleasePayment, ReleaseStatus, WithdrawalStatus
from bridge.ledger.testing import SENDER, txid, withdrawal
from sluice.config import BitcoinConfig
from tests.relayer.api.support import get_json, serve


def open_window(ledger: Ledger, opened: int, closes: int) -> str:
    withdrawal_id = withdrawal(ledger).id
    ledger.withdrawals.open_window(withdrawal_id, opened, closes)
    return withdrawal_id


def released(ledger: Ledger) -> str:
    withdrawal_id = open_window(ledger, 10, 16)
    ledger.withdrawals.move(withdrawal_id, WithdrawalStatus.READY)
    release_txid = txid(777)
    ledger.releases.create(
        txid=release_txid,
        payments=[ReleasePayment(withdrawal_id, 0, 20_000)],
        fee=300,
        fee_rate=1000,
    )
    ledger.releases.move(release_txid, ReleaseStatus.SIGNING)
    ledger.releases.move(release_txid, ReleaseStatus.SIGNED)
    ledger.releases.mark_broadcast(release_txid, raw_tx="00", broadcast_height=17)
    ledger.releases.set_confirmations(release_txid, 2, 18, txid(888))
    return withdrawal_id


async def test_window_counts_down_against_the_bitcoin_tip(config, write, bitcoind):
    tip = bitcoind.getblockcount()
    withdrawal_id = write(lambda ledger: open_window(ledger, tip - 2, tip + 4))
    bitcoin = BitcoinConfig(
        rpc_url=bitcoind.rpc_url, rpc_user=bitcoind.rpc_user, rpc_password=bitcoind.rpc_password
    )
    client = await serve(replace(config, bitcoin=bitcoin))
    try:
        status, body = await get_json(client, f"/v1/withdrawals/{withdrawal_id}")
    finally:
        await client.close()
    assert status == 200
    assert body["status"] == "window_open"
    assert body["challenge_window"] == {
        "opens_at_height": tip - 2,
        "closes_at_height": tip + 4,
        "blocks_left": 4,
        "open": True,
    }
    assert body["release"] is None
    assert bitcoind.rpc_password not in str(body)


async def test_window_without_bitcoind_has_unknown_blocks_left(api_client, write):
    withdrawal_id = write(lambda ledger: open_window(ledger, 10, 16))
    _, body = await get_json(api_client, f"/v1/withdrawals/{withdrawal_id}")
    assert body["challenge_window"]["blocks_left"] is None
    assert body["challenge_window"]["closes_at_height"] == 16


async def test_released_withdrawal_shows_its_release_and_depth(api_client, write):
    withdrawal_id = write(released)
    status, body = await get_json(
        api_client, f"/v1/withdrawals/{withdrawal_id.upper().replace('0X', '0x')}"
    )
    assert status == 200 and body["status"] == "released"
    assert body["release"] == {
        "txid": txid(777),
        "status": "broadcast",
        "confirmations": 2,
        "block_height": 18,
    }
    assert body["challenge_window"]["open"] is False
    assert body["burned_amount"] == str(20_000 * 10**10)


async def test_list_filters_and_pages(api_client, write):
    write(lambda ledger: [withdrawal(ledger) for _ in range(3)])
    write(lambda ledger: open_window(ledger, 1, 5))
    status, body = await get_json(api_client, "/v1/withdrawals?status=window_open")
    assert status == 200 and [item["status"] for item in body["items"]] == ["window_open"]
    _, body = await get_json(api_client, f"/v1/withdrawals?evm_address={SENDER}&limit=2")
    assert len(body["items"]) == 2 and body["next_cursor"]
    _, rest = await get_json(api_client, f"/v1/withdrawals?limit=2&cursor={body['next_cursor']}")
    first = {item["id"] for item in body["items"]}
    assert len(rest["items"]) == 2 and first.isdisjoint(item["id"] for item in rest["items"])
    _, other = await get_json(api_client, f"/v1/withdrawals?evm_address=0x{'99' * 20}")
    assert other["items"] == []


async def test_bad_inputs_and_unknown_ids(api_client):
    cases = [
        ("/v1/withdrawals/0x1234", 400, "withdrawal_id"),
        (f"/v1/withdrawals/{'ab' * 32}", 400, "withdrawal_id"),
        ("/v1/withdrawals?status=gone", 400, "status"),
        ("/v1/withdrawals?asset=DOGE", 400, "asset"),
        ("/v1/withdrawals?evm_address=abc", 400, "evm_address"),
        ("/v1/withdrawals?btc_address=nope", 400, "btc_address"),
        ("/v1/withdrawals?limit=-1", 400, "limit"),
        ("/v1/withdrawals?cursor=%%%", 400, "cursor"),
        ("/v1/withdrawals?sender=0x", 400, "sender"),
    ]
    for path, expected, field in cases:
        status, body = await get_json(api_client, path)
        assert (status, body["error"].get("field")) == (expected, field), path
    status, body = await get_json(api_client, f"/v1/withdrawals/0x{'ef' * 32}")
    assert status == 404 and body["error"]["code"] == "not_found"
