"""Initial ledger schema, with triggers that keep audit_log append-only.

Tables: deposits, withdrawals, releases, claims, challenges, commitments, blocks, signatures,
cursors and the audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of the model types, so this revision never changes when the models do.
BIG_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)
WEI = sa.Numeric(78, 0).with_variant(sa.String(78), "sqlite")
STATUS = sa.String(24)
TXID = sa.String(64)
EVM_ADDRESS = sa.String(42)
EVM_HASH = sa.String(66)
BTC_ADDRESS = sa.String(90)

APPEND_ONLY_TRIGGERS = {
    "sqlite": [
        "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END",
        "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END",
    ],
    "postgresql": [
        "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP; END $$",
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    ],
}
DROP_TRIGGERS = {
    "sqlite": ["DROP TRIGGER audit_log_no_update", "DROP TRIGGER audit_log_no_delete"],
    "postgresql": [
        "DROP TRIGGER audit_log_append_only ON audit_log",
        "DROP FUNCTION audit_log_append_only()",
    ],
}


def timestamps():
    return [
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
    ]


def index(table, *columns, unique=False):
    op.create_index(f"ix_{table}_{'_'.join(columns)}", table, list(columns), unique=unique)


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", BIG_KEY, autoincrement=True, nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("record_kind", sa.String(32), nullable=False),
        sa.Column("record_id", sa.String(80), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_status", STATUS, nullable=True),
        sa.Column("to_status", STATUS, nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    index("audit_log", "record_kind", "record_id")

    op.create_table(
        "bitcoin_blocks",
        sa.Column("height", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", TXID, nullable=False),
        sa.Column("prev_hash", TXID, nullable=False),
        sa.Column("seen_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("height", name="pk_bitcoin_blocks"),
        sa.UniqueConstraint("hash", name="uq_bitcoin_blocks_hash"),
    )

    op.create_table(
        "cursors",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("tag", sa.String(128), nullable=True),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_cursors"),
    )

    op.create_table(
        "federation_signatures",
        sa.Column("id", BIG_KEY, autoincrement=True, nullable=False),
        sa.Column("subject_kind", sa.String(32), nullable=False),
        sa.Column("subject_id", sa.String(80), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("signer", sa.String(130), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_federation_signatures"),
        sa.UniqueConstraint(
            "subject_kind",
            "subject_id",
            "part",
            "signer",
            name="uq_federation_signatures_subject_kind_subject_id_part_signer",
        ),
    )

    op.create_table(
        "deposit_addresses",
        sa.Column("address", BTC_ADDRESS, nullable=False),
        sa.Column("witness_script", sa.Text(), nullable=False),
        sa.Column("recipient", EVM_ADDRESS, nullable=False),
        sa.Column("refund_pubkey", sa.String(66), nullable=True),
        sa.Column("refund_timeout", sa.Integer(), nullable=True),
        *timestamps(),
        sa.PrimaryKeyConstraint("address", name="pk_deposit_addresses"),
    )
    index("deposit_addresses", "recipient")

    op.create_table(
        "deposits",
        sa.Column("id", sa.String(75), nullable=False),
        sa.Column("txid", TXID, nullable=False),
        sa.Column("vout", sa.Integer(), nullable=False),
        sa.Column("asset", STATUS, nullable=False),
        sa.Column("omni_property_id", sa.BigInteger(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("deposit_address", BTC_ADDRESS, nullable=False),
        sa.Column("recipient", EVM_ADDRESS, nullable=False),
        sa.Column("block_height", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", TXID, nullable=False),
        sa.Column("confirmations", sa.Integer(), nullable=False),
        sa.Column("status", STATUS, nullable=False),
        sa.Column("reject_reason", STATUS, nullable=True),
        sa.Column("mint_tx_hash", EVM_HASH, nullable=True),
        sa.Column("mint_block", sa.BigInteger(), nullable=True),
        *timestamps(),
        sa.ForeignKeyConstraint(
            ["deposit_address"],
            ["deposit_addresses.address"],
            name="fk_deposits_deposit_address_deposit_addresses",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_deposits"),
        sa.UniqueConstraint("txid", "vout", name="uq_deposits_txid_vout"),
    )
    for columns in (("created_at", "id"), ("deposit_address",), ("recipient",), ("status",)):
        index("deposits", *columns)

    op.create_table(
        "releases",
        sa.Column("txid", TXID, nullable=False),
        sa.Column("psbt", sa.Text(), nullable=True),
        sa.Column("raw_tx", sa.Text(), nullable=True),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("fee_rate", sa.BigInteger(), nullable=False),
        sa.Column("status", STATUS, nullable=False),
        sa.Column("confirmations", sa.Integer(), nullable=False),
        sa.Column("block_height", sa.BigInteger(), nullable=True),
        sa.Column("block_hash", TXID, nullable=True),
        sa.Column("broadcast_height", sa.BigInteger(), nullable=True),
        sa.Column("replaced_by", TXID, nullable=True),
        *timestamps(),
        sa.ForeignKeyConstraint(
            ["replaced_by"], ["releases.txid"], name="fk_releases_replaced_by_releases"
        ),
        sa.PrimaryKeyConstraint("txid", name="pk_releases"),
    )
    index("releases", "status")

    op.create_table(
        "withdrawals",
        sa.Column("id", EVM_HASH, nullable=False),
        sa.Column("sender", EVM_ADDRESS, nullable=False),
        sa.Column("asset", STATUS, nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("burned_amount", WEI, nullable=False),
        sa.Column("bitcoin_address", BTC_ADDRESS, nullable=False),
        sa.Column("sidechain_tx_hash", EVM_HASH, nullable=False),
        sa.Column("sidechain_block", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("status", STATUS, nullable=False),
        sa.Column("window_opened_at_height", sa.BigInteger(), nullable=True),
        sa.Column("window_closes_at_height", sa.BigInteger(), nullable=True),
        sa.Column("release_txid", TXID, nullable=True),
        sa.Column("refund_tx_hash", EVM_HASH, nullable=True),
        *timestamps(),
        sa.ForeignKeyConstraint(
            ["release_txid"], ["releases.txid"], name="fk_withdrawals_release_txid_releases"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_withdrawals"),
    )
    for columns in (
        ("bitcoin_address",),
        ("created_at", "id"),
        ("release_txid",),
        ("sender",),
        ("status",),
    ):
        index("withdrawals", *columns)

    op.create_table(
        "release_outputs",
        sa.Column("release_txid", TXID, nullable=False),
        sa.Column("withdrawal_id", EVM_HASH, nullable=False),
        sa.Column("vout", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["release_txid"], ["releases.txid"], name="fk_release_outputs_release_txid_releases"
        ),
        sa.ForeignKeyConstraint(
            ["withdrawal_id"],
            ["withdrawals.id"],
            name="fk_release_outputs_withdrawal_id_withdrawals",
        ),
        sa.PrimaryKeyConstraint("release_txid", "withdrawal_id", name="pk_release_outputs"),
    )
    index("release_outputs", "withdrawal_id")

    op.create_table(
        "claims",
        sa.Column("id", BIG_KEY, autoincrement=True, nullable=False),
        sa.Column("kind", STATUS, nullable=False),
        sa.Column("subject", sa.String(80), nullable=False),
        sa.Column("operator", EVM_ADDRESS, nullable=False),
        sa.Column("clock", STATUS, nullable=False),
        sa.Column("opened_at_height", sa.BigInteger(), nullable=False),
        sa.Column("closes_at_height", sa.BigInteger(), nullable=False),
        sa.Column("status", STATUS, nullable=False),
        sa.Column("court_claim_id", EVM_HASH, nullable=True),
        *timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_claims"),
        sa.UniqueConstraint("kind", "subject", "operator", name="uq_claims_kind_subject_operator"),
    )
    for columns in (("created_at", "id"), ("operator",), ("status",)):
        index("claims", *columns)

    op.create_table(
        "challenges",
        sa.Column("id", BIG_KEY, autoincrement=True, nullable=False),
        sa.Column("claim_id", BIG_KEY, nullable=False),
        sa.Column("challenger", EVM_ADDRESS, nullable=False),
        sa.Column("bond", WEI, nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("status", STATUS, nullable=False),
        sa.Column("reward", WEI, nullable=True),
        sa.Column("court_challenge_id", EVM_HASH, nullable=True),
        sa.Column("tx_hash", EVM_HASH, nullable=True),
        *timestamps(),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.id"], name="fk_challenges_claim_id_claims"),
        sa.PrimaryKeyConstraint("id", name="pk_challenges"),
    )
    for columns in (("challenger",), ("claim_id",), ("created_at", "id"), ("status",)):
        index("challenges", *columns)

    op.create_table(
        "state_commitments",
        sa.Column("sidechain_height", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("state_root", EVM_HASH, nullable=False),
        sa.Column("status", STATUS, nullable=False),
        sa.Column("bitcoin_txid", TXID, nullable=True),
        sa.Column("bitcoin_block_height", sa.BigInteger(), nullable=True),
        sa.Column("confirmations", sa.Integer(), nullable=False),
        *timestamps(),
        sa.PrimaryKeyConstraint("sidechain_height", name="pk_state_commitments"),
    )
    index("state_commitments", "bitcoin_txid")
    index("state_commitments", "status")

    for statement in APPEND_ONLY_TRIGGERS.get(op.get_bind().dialect.name, []):
        op.execute(statement)


def downgrade() -> None:
    for statement in DROP_TRIGGERS.get(op.get_bind().dialect.name, []):
        op.execute(statement)
    for table in (
        "state_commitments",
        "challenges",
        "claims",
        "release_outputs",
        "withdrawals",
        "releases",
        "deposits",
        "deposit_addresses",
        "federation_signatures",
        "cursors",
        "bitcoin_blocks",
        "audit_log",
    ):
        op.drop_table(table)
