"""Tables every service's migrations create the same way."""

import sqlalchemy as sa
from alembic import op


def create_outbox(schema: str) -> None:
    """The transactional outbox of one service."""
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.Uuid, nullable=False, unique=True),
        sa.Column("topic", sa.String(100), nullable=False),
        sa.Column("key", sa.String(200), nullable=True),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("correlation_id", sa.String(100), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        schema=schema,
    )
    op.create_index(
        "outbox_unsent",
        "outbox",
        ["id"],
        schema=schema,
        postgresql_where=sa.text("sent_at IS NULL"),
    )


def create_processed_events(schema: str) -> None:
    """Ids of the events a service has handled."""
    op.create_table(
        "processed_events",
        sa.Column("event_id", sa.Uuid, primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        schema=schema,
    )
