"""Audit: tree heads, one per appended batch, each with the compact range it extends.

Revision ID: audit_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "audit_0002"
down_revision = "audit_0001"
branch_labels = None
depends_on = None
SCHEMA = "audit"


def upgrade() -> None:
    """Create the tree heads table; like the entries, its rows are never changed."""
    op.create_table(
        "tree_heads",
        sa.Column("tree_size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("root_hash", sa.LargeBinary, nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signature", sa.String(200), nullable=True),
        sa.Column("key_id", sa.String(64), nullable=True),
        sa.Column("compact_range", sa.Text, nullable=False),
        schema=SCHEMA,
    )
    op.execute(
        f"CREATE TRIGGER tree_heads_refuse_update_delete BEFORE UPDATE OR DELETE "
        f"ON {SCHEMA}.tree_heads FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.refuse_change()"
    )
    op.execute(
        f"CREATE TRIGGER tree_heads_refuse_truncate BEFORE TRUNCATE ON {SCHEMA}.tree_heads "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {SCHEMA}.refuse_change()"
    )


def downgrade() -> None:
    """Refused: signed tree heads are part of the append-only log."""
    raise RuntimeError("The audit log is append-only; it is not downgraded.")
