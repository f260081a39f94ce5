"""Routing: escalation of unacknowledged notifications, and the concerns they need.

Revision ID: routing_0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "routing_0002"
down_revision = "routing_0001"
branch_labels = None
depends_on = None
SCHEMA = "routing"


def upgrade() -> None:
    """Add escalated_at, an index of what may fall overdue, and the routed concerns."""
    op.add_column(
        "notifications",
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        schema=SCHEMA,
    )
    op.create_index(
        "notifications_awaiting_acknowledgement",
        "notifications",
        ["acknowledge_by"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'new' AND kind = 'concern'"),
    )
    op.create_table(
        "concerns",
        sa.Column("concern_id", sa.Uuid, primary_key=True),
        sa.Column("payload", postgresql.JSONB, nullable=False),
        sa.Column("source_agency", sa.String(100), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )


def downgrade() -> None:
    """Drop what upgrade added."""
    op.drop_table("concerns", schema=SCHEMA)
    op.drop_index("notifications_awaiting_acknowledgement", "notifications", schema=SCHEMA)
    op.drop_column("notifications", "escalated_at", schema=SCHEMA)
