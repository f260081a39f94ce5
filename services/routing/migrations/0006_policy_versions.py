"""Routing: each partnership policy version it has put in force, with the file's SHA-256.

Revision ID: routing_0006
"""

import sqlalchemy as sa
from alembic import op

revision = "routing_0006"
down_revision = "routing_0005"
branch_labels = None
depends_on = None
SCHEMA = "routing"


def upgrade() -> None:
    """Add policy_versions: one row per version name, the first text applied under it."""
    op.create_table(
        "policy_versions",
        sa.Column("policy_version", sa.String(200), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_by", sa.String(200), nullable=False),
        schema=SCHEMA,
    )


def downgrade() -> None:
    """Drop policy_versions (the audit trail still holds every policy.applied)."""
    op.drop_table("policy_versions", schema=SCHEMA)
