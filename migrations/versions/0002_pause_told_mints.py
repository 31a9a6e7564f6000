"""Flags out of the cursors table, and the Bridge's mints as seen by the relayer.

* `bridge_pause`: the pause flag (was the fake cursor row `bridge.paused`: position 1 = paused,
  tag = reason);
* `releases.sidechain_told_at`: when the Bridge was told of a confirmed release (was one cursor
  row `told:<txid prefix>` per release);
* `sidechain_mints`: every Deposited event of the Bridge the deposit loop has read, so a mint
  found before the deposit reached the depth here is never looked up again from block 0.

The existing flag rows are moved into the new places and removed from `cursors`; a downgrade
moves them back. The deposit loop's sidechain cursor is reset so that it reads the Deposited
events once more and fills `sidechain_mints` (minting is idempotent; nothing is minted again).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)
PAUSE_CURSOR = "bridge.paused"
TOLD_PREFIX = "told:"
MINTS_CURSOR = "deposits.sidechain"


def upgrade() -> None:
    op.create_table(
        "bridge_pause",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(200), nullable=True),
        sa.Column("changed_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_bridge_pause"),
    )
    op.create_table(
        "sidechain_mints",
        sa.Column("deposit_id", sa.String(75), nullable=False),
        sa.Column("asset", sa.String(24), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("recipient", sa.String(42), nullable=False),
        sa.Column("tx_hash", sa.String(66), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("deposit_id", name="pk_sidechain_mints"),
    )
    with op.batch_alter_table("releases") as releases:
        releases.add_column(sa.Column("sidechain_told_at", TIMESTAMP, nullable=True))
    op.execute(
        "INSERT INTO bridge_pause (id, paused, reason, changed_at) "
        "SELECT 1, position <> 0, tag, updated_at FROM cursors "
        f"WHERE name = '{PAUSE_CURSOR}'"
    )
    # A told cursor's name holds the first 58 hex digits of the txid.
    op.execute(
        "UPDATE releases SET sidechain_told_at = (SELECT c.updated_at FROM cursors c "
        f"WHERE c.name = '{TOLD_PREFIX}' || substr(releases.txid, 1, 58))"
    )
    op.execute(
        f"DELETE FROM cursors WHERE name IN ('{PAUSE_CURSOR}', '{MINTS_CURSOR}') "
        f"OR name LIKE '{TOLD_PREFIX}%'"
    )


def downgrade() -> None:
    op.execute(
        "INSERT INTO cursors (name, position, tag, updated_at) "
        f"SELECT '{PAUSE_CURSOR}', CASE WHEN paused THEN 1 ELSE 0 END, substr(reason, 1, 128), "
        "changed_at "
        "FROM bridge_pause"
    )
    op.execute(
        "INSERT INTO cursors (name, position, tag, updated_at) "
        f"SELECT '{TOLD_PREFIX}' || substr(txid, 1, 58), 1, NULL, sidechain_told_at "
        "FROM releases WHERE sidechain_told_at IS NOT NULL"
    )
    with op.batch_alter_table("releases") as releases:
        releases.drop_column("sidechain_told_at")
    op.drop_table("sidechain_mints")
    op.drop_table("bridge_pause")
