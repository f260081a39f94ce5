"""Routing: the child index (children, their match keys, their chronology) and its HMAC key.

Revision ID: routing_0003
"""

import sqlalchemy as sa
from alembic import op

revision = "routing_0003"
down_revision = "routing_0002"
branch_labels = None
depends_on = None
SCHEMA = "routing"


def upgrade() -> None:
    """Create children, child_keys, child_concerns and secrets."""
    op.create_table(
        "children",
        sa.Column("child_id", sa.Uuid, primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_alerted_at", sa.DateTime(timezone=True), nullable=True),
        schema=SCHEMA,
    )
    op.create_table(
        "child_keys",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column(
            "child_id", sa.Uuid, sa.ForeignKey(f"{SCHEMA}.children.child_id"), nullable=False
        ),
        schema=SCHEMA,
    )
    op.create_index("child_keys_child", "child_keys", ["child_id"], schema=SCHEMA)
    op.create_table(
        "child_concerns",
        sa.Column("concern_id", sa.Uuid, primary_key=True),
        sa.Column(
            "child_id", sa.Uuid, sa.ForeignKey(f"{SCHEMA}.children.child_id"), nullable=False
        ),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("category", sa.String(50), nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("source_agency", sa.String(100), nullable=False),
        schema=SCHEMA,
    )
    op.create_index(
        "child_concerns_child", "child_concerns", ["child_id", "received_at"], schema=SCHEMA
    )
    op.create_table(
        "secrets",
        sa.Column("name", sa.String(50), primary_key=True),
        sa.Column("value", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        schema=SCHEMA,
    )


def downgrade() -> None:
    """Drop what upgrade added."""
    for table in ("secrets", "child_concerns", "child_keys", "children"):
        op.drop_table(table, schema=SCHEMA)
