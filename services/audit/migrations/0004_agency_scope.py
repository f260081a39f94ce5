"""Audit: which agency raised each concern and received each notification; pruning grants.

Revision ID: audit_0004
"""

import sqlalchemy as sa
from alembic import op

revision = "audit_0004"
down_revision = "audit_0003"
branch_labels = None
depends_on = None
SCHEMA = "audit"
ROLE = "safeguard_audit_writer"


def upgrade() -> None:
    """Create the two indexes of agencies, fill them from the log, grant what pruning needs."""
    op.create_table(
        "concern_sources",
        sa.Column("concern_id", sa.Uuid, primary_key=True),
        sa.Column("source_agency", sa.String(100), nullable=False),
        schema=SCHEMA,
    )
    op.create_index("concern_sources_agency", "concern_sources", ["source_agency"], schema=SCHEMA)
    op.create_table(
        "notification_recipients",
        sa.Column("notification_id", sa.Uuid, primary_key=True),
        sa.Column("concern_id", sa.Uuid, nullable=True),
        sa.Column("recipient_agency", sa.String(100), nullable=False),
        schema=SCHEMA,
    )
    op.create_index(
        "notification_recipients_agency",
        "notification_recipients",
        ["recipient_agency"],
        schema=SCHEMA,
    )
    # Entries appended before this revision: read the agencies from their sealed content.
    op.execute(
        f"""
        INSERT INTO {SCHEMA}.concern_sources (concern_id, source_agency)
        SELECT concern_id, convert_from(content, 'UTF8')::jsonb #>> '{{actor,agency}}'
        FROM {SCHEMA}.entries
        WHERE action = 'concern.submitted' AND concern_id IS NOT NULL
          AND convert_from(content, 'UTF8')::jsonb #>> '{{actor,agency}}' IS NOT NULL
        ON CONFLICT DO NOTHING
        """
    )
    op.execute(
        f"""
        INSERT INTO {SCHEMA}.notification_recipients (notification_id, concern_id, recipient_agency)
        SELECT notification_id, concern_id,
               convert_from(content, 'UTF8')::jsonb #>> '{{details,recipient_agency}}'
        FROM {SCHEMA}.entries
        WHERE action = 'notification.delivered' AND notification_id IS NOT NULL
          AND convert_from(content, 'UTF8')::jsonb #>> '{{details,recipient_agency}}' IS NOT NULL
        ON CONFLICT DO NOTHING
        """
    )
    op.execute(
        f"GRANT SELECT, INSERT ON {SCHEMA}.concern_sources, {SCHEMA}.notification_recipients "
        f"TO {ROLE}"
    )
    # The outbox pruner deletes published outbox rows and old processed-event ids.
    op.execute(f"GRANT DELETE ON {SCHEMA}.outbox, {SCHEMA}.processed_events TO {ROLE}")


def downgrade() -> None:
    """Refused: the audit log is never downgraded."""
    raise RuntimeError("The audit log is append-only; it is not downgraded.")
