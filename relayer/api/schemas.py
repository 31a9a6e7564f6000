"""The JSON Schemas of the API's requests and responses (OpenAPI 3.1 components)."""

from typing import Any

from bridge.ledger.states import (
    Asset,
    ChallengeStatus,
    ClaimKind,
    ClaimStatus,
    CommitmentStatus,
    DepositStatus,
    RejectReason,
    ReleaseStatus,
    WindowClock,
    WithdrawalStatus,
)

Schema = dict[str, Any]
HASH32 = "^0x[0-9a-fA-F]{64}$"
EVM_ADDRESS = "^0x[0-9a-fA-F]{40}$"
UINT_TEXT = "^[0-9]+$"


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def obj(properties: dict[str, Schema], optional: tuple[str, ...] = ()) -> Schema:
    """A closed object whose properties are all required except `optional`."""
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
        "additionalProperties": False,
    }


def enum(values: type) -> Schema:
    return {"type": "string", "enum": [member.value for member in values]}


STRING: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
COUNT: Schema = {"type": "integer", "minimum": 0}
BOOL: Schema = {"type": "boolean"}
TIME: Schema = {"type": "string", "format": "date-time"}
WEI: Schema = {"type": "string", "pattern": UINT_TEXT, "description": "decimal wei"}
ADDRESS: Schema = {"type": "string", "pattern": EVM_ADDRESS}
HEX_TXID: Schema = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
HEX_HASH: Schema = {"type": "string", "pattern": "^0x[0-9a-f]{64}$"}


ASSET_SECURITY: Schema = obj({"stake": COUNT, "held": nullable(INT), "ratio_bps": nullable(COUNT)})


def page_of(item: str) -> Schema:
    return obj({"items": {"type": "array", "items": ref(item)}, "next_cursor": nullable(STRING)})


WINDOW = obj(
    {
        "opens_at_height": INT,
        "closes_at_height": INT,
        "blocks_left": nullable(COUNT),
    }
)

SCHEMAS: dict[str, Schema] = {
    "Error": obj(
        {
            "error": obj(
                {
                    "code": {"type": "string", "description": "stable machine-readable name"},
                    "message": {"type": "string", "description": "what is wrong, and the value"},
                    "field": {"type": "string", "description": "the input at fault"},
                },
                optional=("field",),
            )
        }
    ),
    "DepositAddressRequest": obj(
        {
            "evm_address": {**ADDRESS, "description": "who receives the minted coins"},
            "refund_pubkey": nullable(
                {
                    "type": "string",
                    "pattern": "^0[23][0-9a-fA-F]{64}$",
                    "description": "compressed key that may take the coins back after a timeout",
                }
            ),
        },
        optional=("refund_pubkey",),
    ),
    "DepositAddress": obj(
        {
            "address": STRING,
            "witness_script": {"type": "string", "pattern": "^[0-9a-f]+$"},
            "evm_address": ADDRESS,
            "refund_pubkey": nullable(STRING),
            "refund_timeout_blocks": nullable(INT),
            "created_at": nullable(TIME),
            "network": STRING,
            "federation": obj(
                {
                    "public_keys": {"type": "array", "items": STRING},
                    "threshold": {"type": "integer", "minimum": 1},
                }
            ),
            "minimum_amounts": obj({"BTC": COUNT, "USDT": COUNT}),
            "usdt_property_id": INT,
            "confirmations": {"type": "integer", "minimum": 1},
        }
    ),
    "Refund": obj(
        {
            "method": {"type": "string", "enum": ["refund_key", "federation"]},
            "spendable_from_height": nullable(INT),
            "timeout_blocks": nullable(INT),
            "witness_script": nullable(STRING),
            "omni_send": nullable(
                obj(
                    {
                        "property_id": INT,
                        "amount": COUNT,
                        "op_return": {
                            **STRING,
                            "description": "the refund's first output script (hex): an Omni "
                            "simple send of the deposit's tokens",
                        },
                    }
                )
            ),
            "instructions": STRING,
        }
    ),
    "Deposit": obj(
        {
            "id": {"type": "string", "pattern": "^[0-9a-f]{64}:[0-9]+$"},
            "txid": HEX_TXID,
            "vout": COUNT,
            "asset": enum(Asset),
            "amount": {**COUNT, "description": "sats (BTC) or Omni units (USDT)"},
            "omni_property_id": nullable(INT),
            "deposit_address": STRING,
            "evm_address": ADDRESS,
            "status": enum(DepositStatus),
            "confirmations": INT,
            "required_confirmations": INT,
            "block_height": INT,
            "block_hash": HEX_TXID,
            "mint": nullable(obj({"tx_hash": STRING, "block": nullable(INT)})),
            "rejection": nullable(
                obj(
                    {
                        "reason": nullable(enum(RejectReason)),
                        "explanation": STRING,
                        "detail": nullable(
                            {**STRING, "description": "the scanner's words on this deposit"}
                        ),
                        "refund": ref("Refund"),
                    }
                )
            ),
            "created_at": nullable(TIME),
            "updated_at": nullable(TIME),
        }
    ),
    "Withdrawal": obj(
        {
            "id": HEX_HASH,
            "sender": ADDRESS,
            "asset": enum(Asset),
            "amount": {**COUNT, "description": "what Bitcoin pays: sats or Omni units"},
            "burned_amount": WEI,
            "bitcoin_address": STRING,
            "sidechain_tx_hash": STRING,
            "sidechain_block": INT,
            "log_index": INT,
            "status": enum(WithdrawalStatus),
            "challenge_window": nullable(
                {
                    **WINDOW,
                    "properties": {**WINDOW["properties"], "open": BOOL},
                    "required": [*WINDOW["required"], "open"],
                }
            ),
            "release": nullable(
                obj(
                    {
                        "txid": HEX_TXID,
                        "status": enum(ReleaseStatus),
                        "confirmations": INT,
                        "block_height": nullable(INT),
                    }
                )
            ),
            "refund_tx_hash": nullable(STRING),
            "created_at": nullable(TIME),
            "updated_at": nullable(TIME),
        }
    ),
    "Claim": obj(
        {
            "id": INT,
            "kind": enum(ClaimKind),
            "subject": STRING,
            "operator": ADDRESS,
            "clock": enum(WindowClock),
            "window": WINDOW,
            "status": enum(ClaimStatus),
            "court_claim_id": nullable(STRING),
            "created_at": nullable(TIME),
            "updated_at": nullable(TIME),
        }
    ),
    "Challenge": obj(
        {
            "id": INT,
            "claim_id": INT,
            "challenger": ADDRESS,
            "bond": WEI,
            "evidence": {"type": "object"},
            "status": enum(ChallengeStatus),
            "reward": nullable(WEI),
            "court_challenge_id": nullable(STRING),
            "tx_hash": nullable(STRING),
            "created_at": nullable(TIME),
            "updated_at": nullable(TIME),
        }
    ),
    "Commitment": obj(
        {
            "sidechain_height": INT,
            "state_root": STRING,
            "status": enum(CommitmentStatus),
            "bitcoin_txid": nullable(STRING),
            "bitcoin_block_height": nullable(INT),
            "confirmations": INT,
            "created_at": nullable(TIME),
            "updated_at": nullable(TIME),
        }
    ),
    "DepositPage": page_of("Deposit"),
    "WithdrawalPage": page_of("Withdrawal"),
    "ClaimPage": page_of("Claim"),
    "ChallengePage": page_of("Challenge"),
    "CommitmentPage": page_of("Commitment"),
    "Contracts": obj(
        {
            "chain_id": INT,
            "rpc_url": STRING,
            "asset_ids": obj({"BTC": INT, "USDT": INT}),
            "contracts": {
                "type": "array",
                "items": obj(
                    {
                        "name": STRING,
                        "address": ADDRESS,
                        "abi": {"type": "array", "items": {"type": "object"}},
                    }
                ),
            },
        }
    ),
    "Fees": obj(
        {
            "bridge_fee": obj({"deposit_bps": COUNT, "withdrawal_bps": COUNT}),
            "bitcoin_fee_estimates": {
                "type": "array",
                "items": obj({"target_blocks": INT, "sat_per_kvb": nullable(COUNT)}),
            },
        }
    ),
    "Status": obj(
        {
            "bitcoin": obj({"network": STRING, "reachable": BOOL, "tip": nullable(INT)}),
            "sidechain": obj({"reachable": BOOL, "head": nullable(INT), "chain_id": nullable(INT)}),
            "relayer": obj(
                {
                    "bitcoin_height": nullable(INT),
                    "bitcoin_lag_blocks": nullable(INT),
                    "cursors": {
                        "type": "array",
                        "items": obj(
                            {"name": STRING, "position": INT, "updated_at": nullable(TIME)}
                        ),
                    },
                }
            ),
            "federation": obj(
                {
                    "threshold": INT,
                    "live": COUNT,
                    "members": {
                        "type": "array",
                        "items": obj(
                            {
                                "public_key": STRING,
                                "evm_address": ADDRESS,
                                "live": BOOL,
                                "last_signature_at": nullable(TIME),
                            }
                        ),
                    },
                }
            ),
            "paused": BOOL,
            "pause_reason": nullable(STRING),
            "solvency": {
                "type": "array",
                "items": obj(
                    {
                        "asset": enum(Asset),
                        "deposited": INT,
                        "paid_out": INT,
                        "in_flight": INT,
                        "expected_sidechain_supply": INT,
                        "sidechain_supply": nullable(INT),
                        "balanced": nullable(BOOL),
                    }
                ),
            },
            "counts": obj(
                {
                    "deposits": {"type": "object", "additionalProperties": COUNT},
                    "withdrawals": {"type": "object", "additionalProperties": COUNT},
                    "open_claims": COUNT,
                }
            ),
            "security": nullable(ref("Security")),
        }
    ),
    "Security": {
        **obj(
            {
                "btc": ASSET_SECURITY,
                "usdt": ASSET_SECURITY,
                "prices_usd": nullable(
                    obj({"BTC": COUNT, "USDT": COUNT, "decimals": COUNT}),
                ),
                "stake_sats": nullable(COUNT),
                "held_sats": nullable(COUNT),
                "ratio_bps": nullable(COUNT),
                "operators": {
                    "type": "array",
                    "items": obj(
                        {
                            "operator": ADDRESS,
                            "active": BOOL,
                            "btc_stake": COUNT,
                            "usdt_stake": COUNT,
                            "value_sats": nullable(COUNT),
                            "btc_ratio_bps": nullable(COUNT),
                            "usdt_ratio_bps": nullable(COUNT),
                        }
                    ),
                },
            }
        ),
        "description": "Stake delegated to the federation's operators (rsBTC in sats, rsUSDT "
        "in USDT units) against what the bridge holds on Bitcoin; ratios in basis points. "
        "Combined figures (in sats) need fresh BTC and USDT prices in the PriceOracle.",
    },
    "Price": obj(
        {
            "asset": enum(Asset),
            "price": {**COUNT, "description": "USD per coin, 8 decimals (0: no report yet)"},
            "timestamp": COUNT,
            "round": COUNT,
            "age_seconds": COUNT,
            "stale": {**BOOL, "description": "older than the oracle's max age, or none yet"},
        }
    ),
    "Rate": obj(
        {
            "ray": {"type": "string", "pattern": UINT_TEXT, "description": "10**27 = 100%"},
            "bps": COUNT,
        }
    ),
    "Market": obj(
        {
            "id": COUNT,
            "name": {"type": "string", "enum": ["BTC", "USDT", "rsBTC", "rsUSDT"]},
            "asset": {**enum(Asset), "description": "the oracle asset that prices it"},
            "listed": BOOL,
            "borrowable": {**BOOL, "description": "false: collateral only (restaking tokens)"},
            "price": ref("Price"),
            "ltv_bps": COUNT,
            "liquidation_threshold_bps": COUNT,
            "liquidation_bonus_bps": COUNT,
            "reserve_factor_bps": COUNT,
            "caps": obj({"supply": nullable(COUNT), "borrow": nullable(COUNT)}),
            "rate_model": obj(
                {
                    "base_rate_bps": COUNT,
                    "slope1_bps": COUNT,
                    "slope2_bps": COUNT,
                    "optimal_utilisation_bps": COUNT,
                }
            ),
            "rates": nullable(
                obj(
                    {
                        "utilisation": ref("Rate"),
                        "borrow_rate": ref("Rate"),
                        "supply_rate": ref("Rate"),
                    }
                )
            ),
            "totals": nullable(
                obj(
                    {
                        "supplied": COUNT,
                        "borrowed": COUNT,
                        "reserves": COUNT,
                        "deficit": COUNT,
                        "bad_debt": COUNT,
                    }
                )
            ),
        }
    ),
    "Markets": obj(
        {"block": COUNT, "timestamp": COUNT, "markets": {"type": "array", "items": ref("Market")}}
    ),
    "Position": obj(
        {
            "block": COUNT,
            "address": ADDRESS,
            "markets": {
                "type": "array",
                "items": obj({"id": COUNT, "collateral": COUNT, "debt": COUNT}),
            },
            "prices": {"type": "array", "items": ref("Price")},
            "borrow_power": {**COUNT, "description": "collateral value times loan-to-value"},
            "weighted_collateral": {
                **COUNT,
                "description": "collateral value times liquidation threshold",
            },
            "debt_value": COUNT,
            "health_factor": nullable(
                {
                    "type": "string",
                    "pattern": "^[0-9]+\\.[0-9]{18}$",
                    "description": "weighted collateral over debt; null: no debt",
                }
            ),
            "liquidatable": BOOL,
            "liquidation_prices": {
                "type": "array",
                "items": obj(
                    {
                        "asset": enum(Asset),
                        "price": COUNT,
                        "when": {"type": "string", "enum": ["falls to", "rises to"]},
                    }
                ),
            },
            "leverage_account": nullable(ADDRESS),
        }
    ),
    "PauseRequest": obj(
        {"reason": nullable({"type": "string", "maxLength": 200})}, optional=("reason",)
    ),
    "EmptyRequest": obj({}),
    "PauseState": obj({"paused": BOOL, "reason": nullable(STRING), "since": nullable(TIME)}),
    "Health": obj({"status": {"type": "string", "enum": ["ok"]}}),
}
