"""Routing: take_up_concerns(), a batch's first three steps in one round trip.

It records the batch's events as handled, locks its child match keys and finds the children
they already name. Each is a statement of its own inside the function, so the lookup takes its
snapshot after the locks are held: a child another batch added while this one waited is seen.

Revision ID: routing_0007
"""

from alembic import op

revision = "routing_0007"
down_revision = "routing_0006"
branch_labels = None
depends_on = None

TAKE_UP_CONCERNS = """
CREATE FUNCTION routing.take_up_concerns(p_event_ids uuid[], p_keys text[], p_space integer)
RETURNS TABLE (fresh_event_id uuid, known_key text, known_child_id uuid,
               known_created_at timestamptz)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RETURN QUERY
        INSERT INTO routing.processed_events AS handled (event_id)
        SELECT unnest(p_event_ids)
        ON CONFLICT DO NOTHING
        RETURNING handled.event_id, NULL::text, NULL::uuid, NULL::timestamptz;
    -- Keys in one order, so two batches never wait on each other crosswise.
    PERFORM pg_advisory_xact_lock(p_space, hashtext(wanted.key))
    FROM (SELECT unnest(p_keys) AS key ORDER BY 1) AS wanted;
    RETURN QUERY
        SELECT NULL::uuid, k.key::text, c.child_id, c.created_at
        FROM routing.child_keys AS k
        JOIN routing.children AS c ON c.child_id = k.child_id
        WHERE k.key = ANY (p_keys);
END
$$
"""


def upgrade() -> None:
    """Create take_up_concerns()."""
    op.execute(TAKE_UP_CONCERNS)


def downgrade() -> None:
    """Drop take_up_concerns() (routing then needs the release before this one)."""
    op.execute("DROP FUNCTION routing.take_up_concerns(uuid[], text[], integer)")
