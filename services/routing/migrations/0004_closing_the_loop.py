"""Routing: decision deadlines, decisions, assignment, and each agency's change log.

Revision ID: routing_0004
"""

import sqlalchemy as sa
from alembic import op

revision = "routing_0004"
down_revision = "routing_0003"
branch_labels = None
depends_on = None
SCHEMA = "routing"
COLUMNS = (
    ("decide_by", sa.DateTime(timezone=True)),
    ("acknowledged_by_role", sa.String(30)),
    ("assignee", sa.String(200)),
    ("decision", sa.String(64)),
    ("decision_label", sa.String(200)),
    ("decided_at", sa.DateTime(timezone=True)),
    ("revision", sa.Integer),
    ("decision_escalated_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    """Add the notifications' casework columns, the decision history and the change log."""
    for name, type_ in COLUMNS:
        op.add_column("notifications", sa.Column(name, type_, nullable=True), schema=SCHEMA)
    # Notifications routed before decisions existed expect none (decide_by stays null).
    op.create_index(
        "notifications_awaiting_decision",
        "notifications",
        ["decide_by"],
        schema=SCHEMA,
        postgresql_where=sa.text("decided_at IS NULL AND decision_escalated_at IS NULL"),
    )
    op.create_table(
        "decisions",
        sa.Column(
            "notification_id",
            sa.Uuid,
            sa.ForeignKey(f"{SCHEMA}.notifications.notification_id"),
            primary_key=True,
        ),
        sa.Column("revision", sa.Integer, primary_key=True),
        sa.Column("decision", sa.String(64), nullable=False),
        sa.Column("decision_label", sa.String(200), nullable=False),
        sa.Column("rationale", sa.Text, nullable=True),
        sa.Column("decided_by", sa.String(200), nullable=False),
        sa.Column("decided_by_role", sa.String(30), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "changes",
        sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("agency", sa.String(100), nullable=False),
        sa.Column("notification_id", sa.Uuid, nullable=False),
        sa.Column("change", sa.String(20), nullable=False),
        sa.Column(
            "changed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        schema=SCHEMA,
    )
    op.create_index("changes_agency", "changes", ["agency", "seq"], schema=SCHEMA)
    # The notifications stored so far, in their order, so a stream resumes over them too.
    op.execute(
        f"INSERT INTO {SCHEMA}.changes (agency, notification_id, change) "
        f"SELECT recipient_agency, notification_id, 'routed' FROM {SCHEMA}.notifications "
        "ORDER BY seq"
    )


def downgrade() -> None:
    """Drop what upgrade added."""
    op.drop_table("changes", schema=SCHEMA)
    op.drop_table("decisions", schema=SCHEMA)
    op.drop_index("notifications_awaiting_decision", "notifications", schema=SCHEMA)
    for name, _ in reversed(COLUMNS):
        op.drop_column("notifications", name, schema=SCHEMA)
