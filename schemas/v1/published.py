"""The models the contract publishes as JSON Schema, by the name of each one's file."""

from __future__ import annotations

from pydantic import BaseModel

from schemas.v1.api import (
    AssignmentRequest,
    ConcernAccepted,
    ConcernStatusPage,
    ConcernStatusView,
    DecisionRequest,
    NotificationPage,
    NotificationSummary,
    NotificationView,
)
from schemas.v1.audit import AuditEvent
from schemas.v1.audit_views import AuditPage, ConcernTrail, InclusionProof, TreeHeadView
from schemas.v1.concern import ConcernSubmission
from schemas.v1.delivery import DeliveredNotification, DeliveryPage, DeliveryView
from schemas.v1.events import (
    ConcernReceived,
    ConcernRouted,
    ConcernSubmitted,
    NotificationChanged,
    NotificationRouted,
)

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
    "event-notification-changed": NotificationChanged,
    "concern-status-page": ConcernStatusPage,
    "notification-summary": NotificationSummary,
    "decision-request": DecisionRequest,
    "assignment-request": AssignmentRequest,
    "audit-page": AuditPage,
    "audit-trail": ConcernTrail,
    "audit-inclusion-proof": InclusionProof,
    "audit-tree-head": TreeHeadView,
    "delivered-notification": DeliveredNotification,
    "delivery": DeliveryView,
    "delivery-page": DeliveryPage,
}
