"""Pure: the notifications and events that follow from one routing decision."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from pydantic import JsonValue

from schemas.v1 import (
    Actor,
    AuditAction,
    AuditEvent,
    AuditEventPayload,
    ChronologyEntry,
    ConcernReceivedPayload,
    ConcernRouted,
    ConcernRoutedPayload,
    NotificationKind,
    NotificationRouted,
    NotificationRoutedPayload,
    RoutedRecipient,
    Topic,
)
from services.common.messages import OutboxMessage
from services.partnership import Partnership
from services.routing import policy
from services.routing.policy import RoutingDecision
from services.routing.profiles import apply_sharing_profile

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


CUMULATIVE_CONCERN = "cumulative_concern"


def concern_notifications(
    received: ConcernReceivedPayload, decision: RoutingDecision, *, child_id: UUID | None = None
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
                child_id=child_id,
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
) -> list[OutboxMessage]:
    """The events announcing a routing: notifications, where it went, and the audit entries."""
    concern_key = str(received.concern_id)
    recipients = [
        RoutedRecipient(
            agency=n.recipient_agency, reasons=n.reasons, notification_id=n.notification_id
        )
        for n in notifications
    ]
    events: list[OutboxMessage] = [
        OutboxMessage(
            NotificationRouted(correlation_id=correlation_id, payload=n),
            Topic.NOTIFICATIONS_ROUTED,
            child_key,
        )
        for n in notifications
    ]  # fmt: skip
    events.append(
        OutboxMessage(
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
        OutboxMessage(
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
        OutboxMessage(
            AuditEvent(
                producer="routing",
                correlation_id=correlation_id,
                occurred_at=routed_at,
                payload=delivery_audit(n),
            ),
            Topic.AUDIT_EVENTS,
            concern_key,
        )
        for n in notifications
    )
    return events


def cumulative_alert(
    received: ConcernReceivedPayload,
    chronology: Sequence[ChronologyEntry],
    partnership: Partnership,
    *,
    child_id: UUID,
    as_of: datetime,
) -> NotificationRoutedPayload:
    """The cumulative-concern alert raised by a concern, for the child's home social care.

    It goes there even when that agency raised the concern itself: the alert is about the
    child's concerns taken together, which no single agency holds. The chronology is the
    child's concerns in the window, without narratives; the triggering concern itself is cut
    to the recipient's profile as any notification is.
    """
    concern = received.concern
    agency = policy.home_childrens_social_care(concern, partnership)
    disclosure = apply_sharing_profile(
        concern, partnership.sharing_profiles[partnership.agency(agency).profile]
    )
    return NotificationRoutedPayload(
        # Derived from the triggering concern: one concern raises at most one alert.
        notification_id=uuid.uuid5(received.concern_id, "cumulative"),
        concern_id=received.concern_id,
        kind=NotificationKind.CUMULATIVE_CONCERN,
        recipient_agency=agency,
        source_agency=received.source_agency,
        category=concern.category,
        severity=concern.severity,
        received_at=received.received_at,
        reasons=[CUMULATIVE_CONCERN],
        policy_version=partnership.policy_version,
        acknowledge_by=policy.acknowledgement_deadline(
            received.received_at, concern.severity, partnership
        ),
        child_id=child_id,
        concern=disclosure.concern,
        disclosed_fields=disclosure.disclosed_fields,
        chronology=policy.in_window(chronology, received_at=as_of, partnership=partnership),
    )


def alert_events(
    alert: NotificationRoutedPayload, *, routed_at: datetime, correlation_id: str
) -> list[OutboxMessage]:
    """The events announcing a cumulative-concern alert: the notification and its delivery."""
    return [
        OutboxMessage(
            NotificationRouted(correlation_id=correlation_id, payload=alert),
            Topic.NOTIFICATIONS_ROUTED,
            str(alert.child_id),
        ),
        OutboxMessage(
            AuditEvent(
                producer="routing",
                correlation_id=correlation_id,
                occurred_at=routed_at,
                payload=delivery_audit(
                    alert,
                    chronology=[str(entry.concern_id) for entry in alert.chronology or []],
                ),
            ),
            Topic.AUDIT_EVENTS,
            str(alert.concern_id),
        ),
    ]
