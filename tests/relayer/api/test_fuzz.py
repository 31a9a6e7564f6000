"""Schema-driven fuzzing (schemathesis) of `sluice api` against its own OpenAPI document.

The API runs as `sluice api --config FILE` in its own process, over a seeded SQLite ledger, a
real bitcoind and `sluice node run`, so no 503 is expected. Every operation but the endless
event stream gets valid and invalid inputs; no answer may be a 5xx or break the document.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from bridge.ledger import Ledger, ledger_sessions
from bridge.ledger.testing import challenge, claim, commitment, deposit, sqlite_ledger, withdrawal
from regtest.util import free_port
from relayer.api.openapi import openapi_document
from relayer.api.process import serving
from tests.relayer.api.support import ADMIN_TOKEN, FEDERATION_KEYS

EXAMPLES_PER_OPERATION = 50
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]
ENDLESS = {"/v1/events"}


def seed(ledger: Ledger) -> None:
    for builder in (deposit, withdrawal, claim, challenge, commitment):
        builder(ledger)


@pytest.fixture(scope="module")
def api_url(bitcoind, sidechain_node, tmp_path_factory) -> Iterator[str]:
    """`sluice api --config FILE` on a free port; yields its base URL."""
    directory: Path = tmp_path_factory.mktemp("api")
    engine = sqlite_ledger(directory)
    with ledger_sessions(engine).begin() as session:
        seed(Ledger(session))
    engine.dispose()
    port = free_port()
    config = directory / "sluice.toml"
    keys = ", ".join(f'"{key}"' for key in FEDERATION_KEYS)
    config.write_text(
        f"""
[bitcoin]
rpc_url = "{bitcoind.rpc_url}"
rpc_user = "{bitcoind.rpc_user}"
rpc_password = "{bitcoind.rpc_password}"

[ledger]
url = "sqlite:///{directory / "ledger.sqlite3"}"

[bridge]
federation_pubkeys = [{keys}]
threshold = 2

[api]
port = {port}
node_rpc_url = "{sidechain_node}"
admin_token = "{ADMIN_TOKEN}"
rate_limit_per_minute = 1000000
"""
    )
    with serving(config, port, directory / "api.log") as url:
        yield url


def operations(mode: GenerationMode) -> list:
    """The operations to fuzz; invalid input needs something to get wrong (a parameter, a body)."""
    document = openapi_document()["paths"]
    schema = schemathesis.openapi.from_dict(openapi_document())
    found = [result.ok() for result in schema.get_all_operations()]
    return [
        operation
        for operation in found
        if operation.path not in ENDLESS
        and (
            mode == GenerationMode.POSITIVE
            or {"parameters", "requestBody"} & document[operation.path][operation.method].keys()
        )
    ]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_input_makes_a_server_error_or_breaks_the_document(api_url, mode):
    tested, calls = [], []
    for operation in operations(mode):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case) -> None:
            response = case.call_and_validate(base_url=api_url, checks=CHECKS)
            calls.append(response.status_code)

        check()
        tested.append(f"{operation.method.upper()} {operation.path}")
    assert len(tested) == len(operations(mode)) >= 8
    assert len(calls) >= len(tested) and all(status < 500 for status in calls)
    print(mode, len(calls), "calls, statuses:", sorted(set(calls)))
