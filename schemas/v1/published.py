"""The models the contract publishes as JSON Schema, by the name of each one's file."""

from __future__ import annotations

from pydantic import BaseModel

from schemas.v1.api import ConcernAccepted, ConcernStatusView, NotificationPage, NotificationView
from schemas.v1.audit import AuditEvent
from schemas.v1.concern import ConcernSubmission
from schemas.v1.events import ConcernReceived, ConcernRouted, ConcernSubmitted, NotificationRouted

MODELS: dict[str, type[BaseModel]] = {
    "concern-submission": ConcernSubmission,
    "concern-accepted": ConcernAccepted,
    "concern-status": ConcernStatusView,
    "notification": NotificationView,
    "notification-page": NotificationPage,
    "event-concern-submitted": ConcernSubmitted,
    "event-concern-received": ConcernReceived,
    "event-concern-routed": ConcernRouted,
    "event-notification-routed": NotificationRouted,
    "event-audit": AuditEvent,
}
