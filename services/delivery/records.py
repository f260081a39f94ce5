"""Pure: the audit record of each delivery attempt and redelivery (ids and statuses, no body)."""

from __future__ import annotations

from typing import Any

from schemas.v1 import Actor, AuditAction, AuditEvent, AuditEventPayload, Topic
from services.common.messages import OutboxMessage
from services.delivery.deliveries import Delivery

DELIVERY = Actor(subject="delivery", agency=None, role="service")


def delivery_audit(
    delivery: Delivery,
    action: AuditAction,
    *,
    actor: Actor = DELIVERY,
    correlation_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> OutboxMessage:
    """An audit event about one delivery: its destination, attempt number and any HTTP status."""
    event = AuditEvent(
        producer="delivery",
        correlation_id=correlation_id or delivery.correlation_id,
        payload=AuditEventPayload(
            action=action,
            actor=actor,
            concern_id=delivery.concern_id,
            notification_id=delivery.notification_id,
            details={
                "delivery_id": str(delivery.delivery_id),
                "agency": delivery.agency,
                "destination": delivery.destination,
                "kind": delivery.kind,
                "attempt": delivery.attempts,
                **(details or {}),
            },
        ),
    )
    return OutboxMessage(event, Topic.AUDIT_EVENTS, str(delivery.concern_id))
