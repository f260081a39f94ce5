"""Routing: when each concern's personal content was removed under the retention policy.

Revision ID: routing_0005
"""

import sqlalchemy as sa
from alembic import op

revision = "routing_0005"
down_revision = "routing_0004"
branch_labels = None
depends_on = None
SCHEMA = "routing"

# A notification stored after its concern's content was removed (an escalation, a feedback)
# arrives cut from what is left; the trigger still marks it removed, and strips what a copy of
# an older notification might carry, so no row of a removed concern ever holds the content.
MARK_NEW_NOTIFICATIONS = f"""
CREATE FUNCTION {SCHEMA}.notification_content_retention() RETURNS trigger AS $$
DECLARE
    removed timestamptz;
BEGIN
    -- FOR SHARE: waits for a removal in progress and sees it; the job skips a held concern.
    SELECT content_removed_at INTO removed
      FROM {SCHEMA}.concerns WHERE concern_id = NEW.concern_id FOR SHARE;
    IF removed IS NOT NULL THEN
        NEW.payload := NEW.payload #- '{{concern,narrative}}' #- '{{concern,household}}'
                                   #- '{{concern,reporter}}';
        NEW.content_removed_at := coalesce(NEW.content_removed_at, removed);
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql
"""
ON_INSERT = f"""
CREATE TRIGGER notifications_content_retention BEFORE INSERT ON {SCHEMA}.notifications
    FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.notification_content_retention();
"""


def upgrade() -> None:
    """Add content_removed_at to concerns and notifications, and the index the job reads."""
    for table in ("concerns", "notifications"):
        op.add_column(
            table,
            sa.Column("content_removed_at", sa.DateTime(timezone=True), nullable=True),
            schema=SCHEMA,
        )
    op.create_index(
        "concerns_awaiting_retention",
        "concerns",
        ["received_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("content_removed_at IS NULL"),
    )
    op.execute(MARK_NEW_NOTIFICATIONS)
    op.execute(ON_INSERT)


def downgrade() -> None:
    """Drop the trigger, the index and the columns (removed content does not come back)."""
    op.execute(f"DROP TRIGGER notifications_content_retention ON {SCHEMA}.notifications")
    op.execute(f"DROP FUNCTION {SCHEMA}.notification_content_retention()")
    op.drop_index("concerns_awaiting_retention", table_name="concerns", schema=SCHEMA)
    for table in ("concerns", "notifications"):
        op.drop_column(table, "content_removed_at", schema=SCHEMA)
