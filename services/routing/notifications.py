"""Pure: the notifications and events that follow from one routing decision."""

from __future__ import annotations

import uuid
from datetime import datetime

from schemas.v1 import (
    Actor,
    AuditAction,
    AuditEvent,
    AuditEventPayload,
    ConcernReceivedPayload,
    ConcernRouted,
    ConcernRoutedPayload,
    Envelope,
    NotificationKind,
    NotificationRouted,
    NotificationRoutedPayload,
    RoutedRecipient,
    Topic,
)
from services.routing.policy import RoutingDecision
from services.routing.profiles import apply_sharing_profile

ROUTING = Actor(subject="routing", agency=None, role="service")


def concern_notifications(
    received: ConcernReceivedPayload, decision: RoutingDecision
) -> list[NotificationRoutedPayload]:
    """One notification per recipient, cut to its sharing profile."""
    notifications = []
    for recipient in decision.recipients:
        disclosure = apply_sharing_profile(received.concern, recipient.fields)
        notifications.append(
            NotificationRoutedPayload(
                # Derived from the concern and agency, so a redelivered concern names the same one.
                notification_id=uuid.uuid5(received.concern_id, f"concern:{recipient.agency}"),
                concern_id=received.concern_id,
                kind=NotificationKind.CONCERN,
                recipient_agency=recipient.agency,
                source_agency=received.source_agency,
                category=received.concern.category,
                severity=received.concern.severity,
                received_at=received.received_at,
                reasons=list(recipient.reasons),
                policy_version=decision.policy_version,
                acknowledge_by=recipient.acknowledge_by,
                concern=disclosure.concern,
                disclosed_fields=disclosure.disclosed_fields,
            )
        )
    return notifications


def routed_events(
    received: ConcernReceivedPayload,
    notifications: list[NotificationRoutedPayload],
    *,
    policy_version: str,
    routed_at: datetime,
    correlation_id: str,
    child_key: str,
) -> list[tuple[Envelope, Topic, str | None]]:
    """The events announcing a routing: notifications, where it went, and the audit entries."""
    concern_key = str(received.concern_id)
    recipients = [
        RoutedRecipient(
            agency=n.recipient_agency, reasons=n.reasons, notification_id=n.notification_id
        )
        for n in notifications
    ]
    events: list[tuple[Envelope, Topic, str | None]] = [
        (NotificationRouted(correlation_id=correlation_id, payload=n), Topic.NOTIFICATIONS_ROUTED,
         child_key)
        for n in notifications
    ]  # fmt: skip
    events.append(
        (
            ConcernRouted(
                correlation_id=correlation_id,
                payload=ConcernRoutedPayload(
                    concern_id=received.concern_id,
                    source_agency=received.source_agency,
                    policy_version=policy_version,
                    routed_at=routed_at,
                    recipients=recipients,
                ),
            ),
            Topic.CONCERNS_ROUTED,
            concern_key,
        )
    )
    events.append(
        (
            AuditEvent(
                producer="routing",
                correlation_id=correlation_id,
                occurred_at=routed_at,
                payload=AuditEventPayload(
                    action=AuditAction.CONCERN_ROUTED,
                    actor=ROUTING,
                    concern_id=received.concern_id,
                    details={
                        "policy_version": policy_version,
                        "recipients": [
                            {"agency": r.agency, "reasons": list(r.reasons)} for r in recipients
                        ],
                    },
                ),
            ),
            Topic.AUDIT_EVENTS,
            concern_key,
        )
    )
    events.extend(
        (
            AuditEvent(
                producer="routing",
                correlation_id=correlation_id,
                occurred_at=routed_at,
                payload=AuditEventPayload(
                    action=AuditAction.NOTIFICATION_DELIVERED,
                    actor=ROUTING,
                    concern_id=received.concern_id,
                    notification_id=n.notification_id,
                    fields=n.disclosed_fields,
                    details={"recipient_agency": n.recipient_agency, "kind": n.kind.value},
                ),
            ),
            Topic.AUDIT_EVENTS,
            concern_key,
        )
        for n in notifications
    )
    return events
