"""Intake: submissions, outbox, processed events.

Revision ID: intake_0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from services.common.migration_helpers import create_outbox, create_processed_events

revision = "intake_0001"
down_revision = None
branch_labels = ("intake",)
depends_on = None
SCHEMA = "intake"


def upgrade() -> None:
    """Create intake's tables."""
    op.create_table(
        "submissions",
        sa.Column("concern_id", sa.Uuid, primary_key=True),
        sa.Column("source_agency", sa.String(100), nullable=False),
        sa.Column("source_reference", sa.String(100), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("submitted_by", sa.String(200), nullable=False),
        sa.Column("submitted_role", sa.String(50), nullable=False),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("routed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recipients", postgresql.JSONB, nullable=True),
        sa.UniqueConstraint("source_agency", "source_reference", name="submissions_source_key"),
        schema=SCHEMA,
    )
    create_outbox(SCHEMA)
    create_processed_events(SCHEMA)


def downgrade() -> None:
    """Drop intake's tables."""
    for table in ("processed_events", "outbox", "submissions"):
        op.drop_table(table, schema=SCHEMA)
