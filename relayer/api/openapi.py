"""The OpenAPI 3.1 document describing every endpoint, request and response of the API."""

from functools import cache
from typing import Any

from bridge.ledger.pagination import MAX_PAGE_SIZE
from bridge.ledger.states import (
    Asset,
    ChallengeStatus,
    ClaimKind,
    ClaimStatus,
    CommitmentStatus,
    DepositStatus,
    WithdrawalStatus,
)
from relayer.api.schemas import (
    EVM_ADDRESS,
    HASH32,
    SCHEMAS,
    STRING,
    UINT_TEXT,
    Schema,
    enum,
    ref,
)

VERSION = "1.0.0"

ERRORS = {
    "400": "invalid parameter or body (the error names the field)",
    "401": "missing or wrong bearer token",
    "403": "admin endpoints disabled, or CORS origin not allowed",
    "404": "no such record",
    "413": "body too large",
    "415": "body is not application/json",
    "429": "rate limit reached (see Retry-After)",
    "503": "an upstream (ledger, bitcoind, node) is unavailable, or the bridge is paused",
}
ALWAYS = ("400", "429", "503")


def error_responses(*codes: str) -> dict[str, Any]:
    return {
        code: {
            "description": ERRORS[code],
            "content": {"application/json": {"schema": ref("Error")}},
        }
        for code in (*ALWAYS, *codes)
    }


def ok(schema: str, description: str, status: str = "200") -> dict[str, Any]:
    return {
        status: {
            "description": description,
            "content": {"application/json": {"schema": ref(schema)}},
        }
    }


def query(name: str, schema: Schema, description: str) -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def path(name: str, schema: Schema, description: str) -> Schema:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": schema,
        "description": description,
    }


PAGE = [
    query("cursor", {"type": "string", "maxLength": 512}, "next_cursor of the previous page"),
    query(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": 50},
        "page size",
    ),
]
EVM_FILTER = {"type": "string", "pattern": EVM_ADDRESS}


def listing(summary: str, page: str, filters: list[Schema]) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "description": "Newest first; pages never repeat or skip a record.",
            "parameters": [*filters, *PAGE],
            "responses": {**ok(page, "one page"), **error_responses()},
        }
    }


def admin(summary: str, body: str) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "security": [{"bearer": []}],
            "requestBody": {
                "required": False,
                "content": {"application/json": {"schema": ref(body)}},
            },
            "responses": {
                **ok("PauseState", "the bridge's pause state"),
                **error_responses("401", "403", "413", "415"),
            },
        }
    }


def paths() -> dict[str, Any]:
    btc_filter = query("btc_address", {"type": "string", "maxLength": 90}, "Bitcoin address")
    return {
        "/v1/deposit-addresses": {
            "post": {
                "summary": "Make (or fetch again) the deposit address of an EVM recipient",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": ref("DepositAddressRequest")}},
                },
                "responses": {
                    **ok("DepositAddress", "a new address", "201"),
                    **ok("DepositAddress", "the address, made before"),
                    **error_responses("413", "415"),
                },
            }
        },
        "/v1/deposits": listing(
            "Deposits seen by this relayer",
            "DepositPage",
            [
                query("evm_address", EVM_FILTER, "recipient on the sidechain"),
                {**btc_filter, "description": "the deposit address paid"},
                query("status", enum(DepositStatus), "status"),
                query("asset", enum(Asset), "asset"),
            ],
        ),
        "/v1/deposits/{deposit_id}": {
            "get": {
                "summary": "One deposit: status, confirmations, mint, or rejection and refund",
                "parameters": [
                    path(
                        "deposit_id",
                        {"type": "string", "pattern": "^[0-9a-fA-F]{64}:[0-9]{1,10}$"},
                        "txid:vout of the payment",
                    )
                ],
                "responses": {**ok("Deposit", "the deposit"), **error_responses("404")},
            }
        },
        "/v1/withdrawals": listing(
            "Withdrawals requested on the sidechain",
            "WithdrawalPage",
            [
                query("evm_address", EVM_FILTER, "sender on the sidechain"),
                {**btc_filter, "description": "the Bitcoin address paid"},
                query("status", enum(WithdrawalStatus), "status"),
                query("asset", enum(Asset), "asset"),
            ],
        ),
        "/v1/withdrawals/{withdrawal_id}": {
            "get": {
                "summary": "One withdrawal: status, challenge window, release and its depth",
                "parameters": [
                    path("withdrawal_id", {"type": "string", "pattern": HASH32}, "the Bridge's id")
                ],
                "responses": {**ok("Withdrawal", "the withdrawal"), **error_responses("404")},
            }
        },
        "/v1/claims": listing(
            "Operators' claims and their fraud-proof windows",
            "ClaimPage",
            [
                query("kind", enum(ClaimKind), "claim kind"),
                query("status", enum(ClaimStatus), "status (open: window running)"),
                query("operator", EVM_FILTER, "operator"),
            ],
        ),
        "/v1/challenges": listing(
            "Challenges raised against claims",
            "ChallengePage",
            [
                query("claim_id", {"type": "integer", "minimum": 0}, "the claim challenged"),
                query("challenger", EVM_FILTER, "challenger"),
                query("status", enum(ChallengeStatus), "status"),
            ],
        ),
        "/v1/commitments": listing(
            "Sidechain state roots anchored on Bitcoin",
            "CommitmentPage",
            [query("status", enum(CommitmentStatus), "status")],
        ),
        "/v1/contracts": {
            "get": {
                "summary": "Chain id, JSON-RPC URL, contract addresses and ABIs",
                "responses": {
                    **ok("Contracts", "what a UI needs to call the Bridge"),
                    **error_responses(),
                },
            }
        },
        "/v1/fees": {
            "get": {
                "summary": "The bridge fee and bitcoind's fee estimates",
                "responses": {**ok("Fees", "fees"), **error_responses()},
            }
        },
        "/v1/status": {
            "get": {
                "summary": "Tips, relayer lag, federation liveness, pause flag, solvency",
                "responses": {**ok("Status", "the bridge's status"), **error_responses()},
            }
        },
        "/v1/events": {
            "get": {
                "summary": "Ledger events as Server-Sent Events (id = audit id, event = kind)",
                "parameters": [
                    query(
                        "after",
                        {"type": "integer", "minimum": 0},
                        "replay events after this id (default: only new ones)",
                    ),
                    {
                        "name": "Last-Event-ID",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "pattern": UINT_TEXT},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "an endless stream",
                        "content": {"text/event-stream": {"schema": STRING}},
                    },
                    **error_responses(),
                },
            }
        },
        "/v1/markets": {
            "get": {
                "summary": "Lending markets: prices, rates, utilisation, caps, risk settings",
                "responses": {**ok("Markets", "every market at one block"), **error_responses()},
            }
        },
        "/v1/positions/{address}": {
            "get": {
                "summary": "An account's lending position: collateral, debt, health, liquidation",
                "parameters": [
                    path("address", {"type": "string", "pattern": EVM_ADDRESS}, "the account")
                ],
                "responses": {**ok("Position", "the position at one block"), **error_responses()},
            }
        },
        "/v1/admin/pause": admin(
            "Pause the bridge at this member: it attests no deposit and signs or coordinates no "
            "vault spend until resumed (a quorum of paused members stops the whole bridge)",
            "PauseRequest",
        ),
        "/v1/admin/resume": admin("Resume the bridge at this member", "EmptyRequest"),
        "/v1/openapi.json": {
            "get": {
                "summary": "This document",
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    **error_responses(),
                },
            }
        },
        "/": {
            "get": {
                "summary": "The explorer page (static HTML using only this API)",
                "responses": {
                    "200": {
                        "description": "the page",
                        "content": {"text/html": {"schema": STRING}},
                    },
                    **error_responses(),
                },
            }
        },
        "/healthz": {
            "get": {
                "summary": "Liveness: the ledger answers",
                "responses": {**ok("Health", "healthy"), **error_responses()},
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics (text exposition format)",
                "responses": {
                    "200": {
                        "description": "metrics",
                        "content": {"text/plain": {"schema": STRING}},
                    },
                    **error_responses(),
                },
            }
        },
    }


@cache
def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Sluice bridge API",
            "version": VERSION,
            "description": (
                "Read one relayer's ledger: deposits, withdrawals, fraud-proof windows, status. "
                'Every error is {"error": {"code", "message", "field"?}}. Amounts are integers '
                "in base units; wei amounts are decimal strings."
            ),
        },
        "paths": paths(),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
