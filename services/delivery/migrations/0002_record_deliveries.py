"""Delivery: record_deliveries(), a batch of deliveries recorded in one round trip.

It takes each destination's recording lock (shared: recordings go side by side, a disabling
waits for them all), then in one statement finds which destinations are disabled and records
the deliveries, those for a disabled destination as disabled. The statement takes its snapshot
after the locks are held, so a disabling committed while this waited is seen.

Revision ID: delivery_0002
"""

from alembic import op

revision = "delivery_0002"
down_revision = "delivery_0001"
branch_labels = None
depends_on = None

RECORD_DELIVERIES = """
CREATE FUNCTION delivery.record_deliveries(
    p_delivery_ids uuid[], p_event_ids uuid[], p_notification_ids uuid[], p_concern_ids uuid[],
    p_agencies text[], p_destinations text[], p_kinds text[], p_bodies text[],
    p_correlation_ids text[], p_now timestamptz)
RETURNS TABLE (disabled_agency text, disabled_destination text)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    -- Destinations in one order; the key is the one disabling a destination takes (store.py).
    PERFORM pg_advisory_xact_lock_shared(
        hashtextextended('delivery.destination/' || wanted.agency || '/' || wanted.destination, 0))
    FROM (SELECT DISTINCT u.agency, u.destination
          FROM unnest(p_agencies, p_destinations) AS u (agency, destination)
          ORDER BY 1, 2) AS wanted;
    RETURN QUERY
        WITH fresh AS (
            SELECT * FROM unnest(p_delivery_ids, p_event_ids, p_notification_ids, p_concern_ids,
                                 p_agencies, p_destinations, p_kinds, p_bodies,
                                 p_correlation_ids)
                AS f (delivery_id, event_id, notification_id, concern_id, agency, destination,
                      kind, body, correlation_id)
        ), gone AS (
            SELECT g.agency::text AS agency, g.destination::text AS destination
            FROM delivery.disabled_destinations AS g
            WHERE (g.agency, g.destination) IN (SELECT f.agency, f.destination FROM fresh AS f)
        ), recorded AS (
            INSERT INTO delivery.deliveries
                (delivery_id, event_id, notification_id, concern_id, agency, destination, kind,
                 body, correlation_id, status, attempts, next_attempt_at, window_started_at,
                 created_at)
            SELECT f.delivery_id, f.event_id, f.notification_id, f.concern_id, f.agency,
                   f.destination, f.kind, f.body, f.correlation_id,
                   CASE WHEN (f.agency, f.destination) IN (SELECT agency, destination FROM gone)
                        THEN 'disabled' ELSE 'pending' END,
                   0, p_now, p_now, p_now
            FROM fresh AS f
            ON CONFLICT DO NOTHING
        )
        SELECT gone.agency, gone.destination FROM gone;
END
$$
"""


def upgrade() -> None:
    """Create record_deliveries()."""
    op.execute(RECORD_DELIVERIES)


def downgrade() -> None:
    """Drop record_deliveries() (delivery then needs the release before this one)."""
    op.execute(
        "DROP FUNCTION delivery.record_deliveries(uuid[], uuid[], uuid[], uuid[], text[], text[],"
        " text[], text[], text[], timestamptz)"
    )
