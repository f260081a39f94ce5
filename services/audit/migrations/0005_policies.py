"""Audit: the text of every partnership policy version that came into force.

Revision ID: audit_0005
"""

import sqlalchemy as sa
from alembic import op

revision = "audit_0005"
down_revision = "audit_0004"
branch_labels = None
depends_on = None
SCHEMA = "audit"
ROLE = "safeguard_audit_writer"


def upgrade() -> None:
    """Create the policies table; the writer may read and add versions, never change them."""
    op.create_table(
        "policies",
        sa.Column("version", sa.String(200), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("partnership", sa.String(100), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("came_into_force_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_by", sa.String(200), nullable=False),
        schema=SCHEMA,
    )
    op.execute(f"GRANT SELECT, INSERT ON {SCHEMA}.policies TO {ROLE}")


def downgrade() -> None:
    """Refused: the audit log is never downgraded."""
    raise RuntimeError("The audit log is append-only; it is not downgraded.")
