"""Pure: the events that announce a routing or a cumulative-concern alert, as outbox messages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import JsonValue

from schemas.v1 import (
    Actor,
    AuditAction,
    AuditEvent,
    AuditEventPayload,
    ConcernReceivedPayload,
    ConcernRouted,
    ConcernRoutedPayload,
    NotificationRouted,
    NotificationRoutedPayload,
    RoutedRecipient,
    Topic,
)
from services.common.messages import OutboxMessage

ROUTING = Actor(subject="routing", agency=None, role="service")


def delivery_audit(n: NotificationRoutedPayload, **details: JsonValue) -> AuditEventPayload:
    """The audit record that a notification, with these fields, went to its agency."""
    return AuditEventPayload(
        action=AuditAction.NOTIFICATION_DELIVERED,
        actor=ROUTING,
        concern_id=n.concern_id,
        notification_id=n.notification_id,
        fields=n.disclosed_fields,
        details={"recipient_agency": n.recipient_agency, "kind": n.kind.value, **details},
    )


def routing_audit(
    payload: AuditEventPayload, *, correlation_id: str, occurred_at: datetime, key: str
) -> OutboxMessage:
    """One of routing's audit records, for audit.events keyed by concern."""
    event = AuditEvent(
        producer="routing", correlation_id=correlation_id, occurred_at=occurred_at, payload=payload
    )
    return OutboxMessage(event, Topic.AUDIT_EVENTS, key)


def announced(
    notification: NotificationRoutedPayload, *, correlation_id: str, occurred_at: datetime, key: str
) -> OutboxMessage:
    """A notification for notifications.routed, keyed by child."""
    event = NotificationRouted(
        correlation_id=correlation_id, occurred_at=occurred_at, payload=notification
    )
    return OutboxMessage(event, Topic.NOTIFICATIONS_ROUTED, key)


def routed_events(
    received: ConcernReceivedPayload,
    notifications: Sequence[NotificationRoutedPayload],
    *,
    policy_version: str,
    routed_at: datetime,
    correlation_id: str,
    child_key: str,
) -> list[OutboxMessage]:
    """The events announcing a routing: notifications, where it went, and the audit entries."""
    concern_key = str(received.concern_id)
    recipients = [
        RoutedRecipient(
            agency=n.recipient_agency,
            reasons=n.reasons,
            notification_id=n.notification_id,
            acknowledge_by=n.acknowledge_by,
            decide_by=n.decide_by,
        )
        for n in notifications
    ]
    events = [
        announced(n, key=child_key, correlation_id=correlation_id, occurred_at=routed_at)
        for n in notifications
    ]
    routed = ConcernRoutedPayload(
        concern_id=received.concern_id,
        source_agency=received.source_agency,
        policy_version=policy_version,
        routed_at=routed_at,
        recipients=recipients,
    )
    events.append(
        OutboxMessage(
            ConcernRouted(correlation_id=correlation_id, occurred_at=routed_at, payload=routed),
            Topic.CONCERNS_ROUTED,
            concern_key,
        )
    )
    routing = AuditEventPayload(
        action=AuditAction.CONCERN_ROUTED,
        actor=ROUTING,
        concern_id=received.concern_id,
        details={
            "policy_version": policy_version,
            "recipients": [{"agency": r.agency, "reasons": list(r.reasons)} for r in recipients],
        },
    )
    events.append(
        routing_audit(
            routing, key=concern_key, correlation_id=correlation_id, occurred_at=routed_at
        )
    )
    events.extend(
        routing_audit(
            delivery_audit(n), key=concern_key, correlation_id=correlation_id, occurred_at=routed_at
        )
        for n in notifications
    )
    return events


def alert_events(
    alert: NotificationRoutedPayload, *, routed_at: datetime, correlation_id: str
) -> list[OutboxMessage]:
    """The events announcing a cumulative-concern alert: the notification and its delivery."""
    chronology: list[JsonValue] = [str(entry.concern_id) for entry in alert.chronology or []]
    return [
        announced(
            alert, key=str(alert.child_id), correlation_id=correlation_id, occurred_at=routed_at
        ),
        routing_audit(
            delivery_audit(alert, chronology=chronology),
            key=str(alert.concern_id),
            correlation_id=correlation_id,
            occurred_at=routed_at,
        ),
    ]
