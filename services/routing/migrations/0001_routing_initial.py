"""Routing: notifications, outbox, processed events.

Revision ID: routing_0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from services.common.migration_helpers import create_outbox, create_processed_events

revision = "routing_0001"
down_revision = None
branch_labels = ("routing",)
depends_on = None
SCHEMA = "routing"


def upgrade() -> None:
    """Create routing's tables."""
    op.create_table(
        "notifications",
        sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False, unique=True),
        sa.Column("notification_id", sa.Uuid, primary_key=True),
        sa.Column("concern_id", sa.Uuid, nullable=False),
        sa.Column("recipient_agency", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("acknowledge_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", postgresql.JSONB, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("acknowledged_by", sa.String(200), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        schema=SCHEMA,
    )
    op.create_index(
        "notifications_inbox", "notifications", ["recipient_agency", "seq"], schema=SCHEMA
    )
    op.create_index("notifications_concern", "notifications", ["concern_id"], schema=SCHEMA)
    create_outbox(SCHEMA)
    create_processed_events(SCHEMA)


def downgrade() -> None:
    """Drop routing's tables."""
    for table in ("processed_events", "outbox", "notifications"):
        op.drop_table(table, schema=SCHEMA)
