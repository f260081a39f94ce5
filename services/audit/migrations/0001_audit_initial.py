"""Audit: the append-only entries table (UPDATE, DELETE and TRUNCATE refused), outbox.

Revision ID: audit_0001
"""

import sqlalchemy as sa
from alembic import op

from services.common.migration_helpers import create_outbox, create_processed_events

revision = "audit_0001"
down_revision = None
branch_labels = ("audit",)
depends_on = None
SCHEMA = "audit"


def upgrade() -> None:
    """Create the audit log and make it refuse change."""
    op.create_table(
        "entries",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("event_id", sa.Uuid, nullable=False, unique=True),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("actor_subject", sa.String(200), nullable=False),
        sa.Column("actor_agency", sa.String(100), nullable=True),
        sa.Column("actor_role", sa.String(50), nullable=False),
        sa.Column("concern_id", sa.Uuid, nullable=True),
        sa.Column("notification_id", sa.Uuid, nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("previous_hash", sa.LargeBinary, nullable=False),
        sa.Column("entry_hash", sa.LargeBinary, nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary, nullable=False),
        schema=SCHEMA,
    )
    for name, column in (("concern", "concern_id"), ("actor", "actor_subject"),
                         ("agency", "actor_agency"), ("action", "action")):  # fmt: skip
        op.create_index(f"entries_{name}", "entries", [column, "seq"], schema=SCHEMA)
    op.execute(
        f"""
        CREATE FUNCTION {SCHEMA}.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit entries are append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$
        """
    )
    op.execute(
        f"CREATE TRIGGER entries_refuse_update_delete BEFORE UPDATE OR DELETE ON {SCHEMA}.entries "
        f"FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.refuse_change()"
    )
    op.execute(
        f"CREATE TRIGGER entries_refuse_truncate BEFORE TRUNCATE ON {SCHEMA}.entries "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {SCHEMA}.refuse_change()"
    )
    create_outbox(SCHEMA)
    create_processed_events(SCHEMA)


def downgrade() -> None:
    """Refused: the audit log is never dropped by a migration."""
    raise RuntimeError("The audit log is append-only; it is not downgraded.")
