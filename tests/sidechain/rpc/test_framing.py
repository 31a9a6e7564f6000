"""JSON-RPC 2.0 framing: parse errors, invalid requests, batches, notifications, limits."""

import json

from aiohttp.test_utils import TestClient, TestServer

from sidechain.rpc.errors import ServerError
from sidechain.rpc.params import Params, quantity
from sidechain.rpc.server import Dispatcher, Limits, make_app


async def _double(params: Params) -> str:
    params.expect(1)
    return hex(2 * params.get(0, quantity))


async def _refuse(params: Params) -> None:
    raise ServerError("nonce too low: tx 1 state 2")


async def _crash(params: Params) -> None:
    raise RuntimeError("secret detail")


METHODS = {"double": _double, "refuse": _refuse, "crash": _crash}


def _dispatcher(**limits: int) -> Dispatcher:
    return Dispatcher(METHODS, Limits(**limits))


def _request(method: str, params: list, request_id: object = 1) -> dict:
    return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}


async def test_a_call_returns_its_result_with_the_request_id():
    body = json.dumps(_request("double", ["0x21"], "abc")).encode()
    response = await _dispatcher().handle_body(body)
    assert response == {"jsonrpc": "2.0", "id": "abc", "result": "0x42"}


async def test_malformed_json_is_a_parse_error_with_null_id():
    response = await _dispatcher().handle_body(b'{"jsonrpc": "2.0", "id": 1,')
    assert response["id"] is None
    assert response["error"]["code"] == -32700


async def test_a_request_without_jsonrpc_version_is_invalid():
    response = await _dispatcher().handle_body(b'{"id": 7, "method": "double", "params": ["0x1"]}')
    assert response["id"] == 7
    assert response["error"]["code"] == -32600


async def test_a_non_string_method_is_invalid():
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": 5}).encode()
    assert (await _dispatcher().handle_body(body))["error"]["code"] == -32600


async def test_an_unknown_method_is_method_not_found():
    body = json.dumps(_request("eth_mine", [])).encode()
    error = (await _dispatcher().handle_body(body))["error"]
    assert error["code"] == -32601
    assert "eth_mine" in error["message"]


async def test_wrong_params_are_invalid_params_naming_the_argument():
    body = json.dumps(_request("double", ["0x01"])).encode()
    error = (await _dispatcher().handle_body(body))["error"]
    assert error["code"] == -32602
    assert error["message"] == "invalid argument 0: quantity '0x01' has leading zero digits"


async def test_too_many_params_are_invalid_params():
    body = json.dumps(_request("double", ["0x1", "0x2"])).encode()
    error = (await _dispatcher().handle_body(body))["error"]
    assert error == {"code": -32602, "message": "expected 1 arguments, got 2"}


async def test_named_params_are_refused_as_invalid_params():
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "double", "params": {"x": 1}})
    assert (await _dispatcher().handle_body(body.encode()))["error"]["code"] == -32602


async def test_a_server_error_keeps_its_code_and_message():
    body = json.dumps(_request("refuse", [])).encode()
    error = (await _dispatcher().handle_body(body))["error"]
    assert error == {"code": -32000, "message": "nonce too low: tx 1 state 2"}


async def test_an_unexpected_exception_is_an_internal_error_without_its_details():
    body = json.dumps(_request("crash", [])).encode()
    error = (await _dispatcher().handle_body(body))["error"]
    assert error["code"] == -32603
    assert "secret" not in error["message"]


async def test_a_batch_answers_each_request_in_order_and_skips_notifications():
    batch = [
        _request("double", ["0x1"], 1),
        {"jsonrpc": "2.0", "method": "double", "params": ["0x2"]},
        _request("nope", [], 2),
        42,
    ]
    responses = await _dispatcher().handle_body(json.dumps(batch).encode())
    assert [r["id"] for r in responses] == [1, 2, None]
    assert responses[0]["result"] == "0x2"
    assert responses[1]["error"]["code"] == -32601
    assert responses[2]["error"]["code"] == -32600


async def test_an_empty_batch_is_one_invalid_request():
    response = await _dispatcher().handle_body(b"[]")
    assert response["error"]["code"] == -32600


async def test_a_batch_over_the_limit_is_refused_whole():
    batch = [_request("double", ["0x1"], i) for i in range(3)]
    response = await _dispatcher(max_batch_size=2).handle_body(json.dumps(batch).encode())
    assert response["error"]["code"] == -32600
    assert "limit of 2" in response["error"]["message"]


async def test_only_notifications_get_no_response():
    body = json.dumps({"jsonrpc": "2.0", "method": "double", "params": ["0x2"]}).encode()
    assert await _dispatcher().handle_body(body) is None


async def test_http_body_over_the_limit_is_refused_with_413():
    app = make_app(METHODS, Limits(max_body_bytes=1024))
    async with TestClient(TestServer(app)) as client:
        response = await client.post("/", data=b"[" + b" " * 2000 + b"]")
        assert response.status == 413
        assert (await response.json())["error"]["code"] == -32600
        ok = await client.post("/", json=_request("double", ["0x3"]))
        assert (await ok.json())["result"] == "0x6"


async def test_json_nested_too_deep_is_a_parse_error():
    response = await _dispatcher().handle_body(b"[" * 100_000 + b"]" * 100_000)
    assert response["error"]["code"] == -32700


async def test_invalid_utf8_is_a_parse_error():
    response = await _dispatcher().handle_body(b'{"jsonrpc": "2.0", "id": 1, "method": "\xff"}')
    assert response["error"]["code"] == -32700
