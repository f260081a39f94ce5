"""Intake: how far each recipient has got with a concern, and its agency's concerns newest first.

Revision ID: intake_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "intake_0002"
down_revision = "intake_0001"
branch_labels = None
depends_on = None
SCHEMA = "intake"


def upgrade() -> None:
    """Add recipient_progress and the index that pages an agency's concerns."""
    op.create_table(
        "recipient_progress",
        sa.Column("notification_id", sa.Uuid, primary_key=True),
        sa.Column("concern_id", sa.Uuid, nullable=False),
        sa.Column("agency", sa.String(100), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledge_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decide_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision", sa.Text, nullable=True),
        sa.Column("decision_label", sa.Text, nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assigned", sa.Boolean, nullable=False),
        sa.Column("escalated", sa.Boolean, nullable=False),
        schema=SCHEMA,
    )
    op.create_index(
        "recipient_progress_by_concern", "recipient_progress", ["concern_id"], schema=SCHEMA
    )
    # Scanned backwards, it gives an agency's concerns newest first and seeks to a cursor.
    op.create_index(
        "submissions_by_agency_newest",
        "submissions",
        ["source_agency", "received_at", "concern_id"],
        schema=SCHEMA,
    )


def downgrade() -> None:
    """Drop what upgrade added."""
    op.drop_index("submissions_by_agency_newest", "submissions", schema=SCHEMA)
    op.drop_table("recipient_progress", schema=SCHEMA)
