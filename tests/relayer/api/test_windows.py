"""GET /v1/claims, /v1/challenges, /v1/commitments: fraud-proof windows and their errors."""

from bridge.ledger import ChallengeStatus, ClaimKind, Ledger
from bridge.ledger.testing import CHALLENGER, OPERATOR, challenge, claim, commitment
from tests.relayer.api.support import get_json


async def test_claims_list_open_windows_and_outcomes(api_client, write):
    def seed(ledger: Ledger) -> None:
        claim(ledger, closes_at=30)
        claim(ledger, kind=ClaimKind.STATE_COMMITMENT)
        challenge(ledger)  # its claim becomes challenged

    write(seed)
    status, body = await get_json(api_client, "/v1/claims?status=open")
    assert status == 200 and len(body["items"]) == 2
    item = body["items"][-1]
    assert item["window"] == {"opens_at_height": 10, "closes_at_height": 30, "blocks_left": None}
    assert item["operator"] == OPERATOR and item["clock"] == "bitcoin"
    _, body = await get_json(api_client, "/v1/claims?kind=state_commitment")
    assert [item["kind"] for item in body["items"]] == ["state_commitment"]
    _, body = await get_json(api_client, "/v1/claims?status=challenged")
    assert len(body["items"]) == 1
    _, body = await get_json(api_client, f"/v1/claims?operator={OPERATOR}&limit=1")
    assert len(body["items"]) == 1 and body["next_cursor"]


async def test_challenges_show_bond_as_exact_wei_and_resolve(api_client, write):
    def seed(ledger: Ledger) -> int:
        submitted = challenge(ledger, bond=3 * 10**18 + 1)
        ledger.challenges.resolve(submitted.id, ChallengeStatus.FAILED)
        return submitted.claim_id

    claim_id = write(seed)
    status, body = await get_json(api_client, f"/v1/challenges?claim_id={claim_id}")
    assert status == 200
    (item,) = body["items"]
    assert item["bond"] == str(3 * 10**18 + 1) and item["status"] == "failed"
    assert item["challenger"] == CHALLENGER and item["evidence"] == {"kind": "test"}
    _, body = await get_json(api_client, "/v1/challenges?status=submitted")
    assert body["items"] == []
    _, body = await get_json(api_client, f"/v1/challenges?challenger={CHALLENGER}")
    assert len(body["items"]) == 1


async def test_commitments_list_by_status(api_client, write):
    def seed(ledger: Ledger) -> None:
        commitment(ledger)
        broadcast = commitment(ledger)
        ledger.commitments.mark_broadcast(broadcast.sidechain_height, "ab" * 32)

    write(seed)
    _, body = await get_json(api_client, "/v1/commitments")
    assert len(body["items"]) == 2
    _, body = await get_json(api_client, "/v1/commitments?status=broadcast")
    assert [item["bitcoin_txid"] for item in body["items"]] == ["ab" * 32]


async def test_window_endpoints_refuse_bad_filters(api_client):
    cases = [
        ("/v1/claims?kind=rumour", "kind"),
        ("/v1/claims?status=maybe", "status"),
        ("/v1/claims?operator=0x12", "operator"),
        ("/v1/claims?limit=5000", "limit"),
        ("/v1/challenges?claim_id=-3", "claim_id"),
        ("/v1/challenges?claim_id=99999999999999999999", "claim_id"),
        ("/v1/challenges?challenger=me", "challenger"),
        ("/v1/challenges?status=won", "status"),
        ("/v1/commitments?status=done", "status"),
        ("/v1/commitments?cursor=abc", "cursor"),
        ("/v1/commitments?height=3", "height"),
    ]
    for path, field in cases:
        status, body = await get_json(api_client, path)
        assert status == 400 and body["error"]["field"] == field, (path, body)
