"""The Kafka topics of the exchange and their partition counts."""

from enum import StrEnum


class Topic(StrEnum):
    """Every topic the services publish or consume."""

    CONCERNS_SUBMITTED = "concerns.submitted"
    CONCERNS_SUBMITTED_DLQ = "concerns.submitted.dlq"
    CONCERNS_RECEIVED = "concerns.received"
    CONCERNS_ROUTED = "concerns.routed"
    NOTIFICATIONS_ROUTED = "notifications.routed"
    NOTIFICATIONS_CHANGED = "notifications.changed"
    AUDIT_EVENTS = "audit.events"
    # Where a record that keeps failing on an internal topic goes (services/common/poison.py).
    CONCERNS_RECEIVED_DLQ = "concerns.received.dlq"
    CONCERNS_ROUTED_DLQ = "concerns.routed.dlq"
    NOTIFICATIONS_ROUTED_DLQ = "notifications.routed.dlq"
    NOTIFICATIONS_CHANGED_DLQ = "notifications.changed.dlq"
    AUDIT_EVENTS_DLQ = "audit.events.dlq"


# Partitions bound each consumer group's parallelism; 6 lets up to six processes share a topic.
TOPICS: dict[Topic, int] = {
    Topic.CONCERNS_SUBMITTED: 6,
    Topic.CONCERNS_SUBMITTED_DLQ: 1,
    Topic.CONCERNS_RECEIVED: 6,
    Topic.CONCERNS_ROUTED: 6,
    Topic.NOTIFICATIONS_ROUTED: 6,
    Topic.NOTIFICATIONS_CHANGED: 6,
    Topic.AUDIT_EVENTS: 6,
    Topic.CONCERNS_RECEIVED_DLQ: 1,
    Topic.CONCERNS_ROUTED_DLQ: 1,
    Topic.NOTIFICATIONS_ROUTED_DLQ: 1,
    Topic.NOTIFICATIONS_CHANGED_DLQ: 1,
    Topic.AUDIT_EVENTS_DLQ: 1,
}
