"""Delivery: deliveries, disabled destinations, outbox, processed events.

Revision ID: delivery_0001
"""

import sqlalchemy as sa
from alembic import op

from services.common.migration_helpers import create_outbox, create_processed_events

revision = "delivery_0001"
down_revision = None
branch_labels = ("delivery",)
depends_on = None
SCHEMA = "delivery"


def upgrade() -> None:
    """Create delivery's tables."""
    op.create_table(
        "deliveries",
        sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False, unique=True),
        sa.Column("delivery_id", sa.Uuid, primary_key=True),
        sa.Column("event_id", sa.Uuid, nullable=False),
        sa.Column("notification_id", sa.Uuid, nullable=False),
        sa.Column("concern_id", sa.Uuid, nullable=False),
        sa.Column("agency", sa.String(64), nullable=False),
        sa.Column("destination", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("correlation_id", sa.String(100), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_status_code", sa.Integer, nullable=True),
        sa.Column("last_error", sa.String(100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        schema=SCHEMA,
    )
    op.create_index(
        "deliveries_due",
        "deliveries",
        ["agency", "destination", "next_attempt_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index("deliveries_by_agency", "deliveries", ["agency", "seq"], schema=SCHEMA)
    op.create_table(
        "disabled_destinations",
        sa.Column("agency", sa.String(64), primary_key=True),
        sa.Column("destination", sa.String(64), primary_key=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivery_id", sa.Uuid, nullable=False),
        schema=SCHEMA,
    )
    create_outbox(SCHEMA)
    create_processed_events(SCHEMA)


def downgrade() -> None:
    """Drop delivery's tables."""
    for table in ("processed_events", "outbox", "disabled_destinations", "deliveries"):
        op.drop_table(table, schema=SCHEMA)
