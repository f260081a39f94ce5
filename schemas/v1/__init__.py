"""Version 1 of the Safeguarding Exchange contract: requests, responses and events."""

from schemas.v1.api import (
    AcknowledgementView,
    ConcernAccepted,
    ConcernStatusView,
    NotificationPage,
    NotificationStatus,
    NotificationView,
    RecipientView,
)
from schemas.v1.audit import Actor, AuditAction, AuditEvent, AuditEventPayload
from schemas.v1.concern import (
    Category,
    ConcernSubmission,
    Consent,
    HouseholdMember,
    LawfulBasis,
    Location,
    Reporter,
    Severity,
    Subject,
)
from schemas.v1.disclosure import DisclosedConcern, DisclosedSubject
from schemas.v1.envelope import Envelope, new_event_id
from schemas.v1.events import (
    ChronologyEntry,
    ConcernReceived,
    ConcernReceivedPayload,
    ConcernRouted,
    ConcernRoutedPayload,
    ConcernSubmitted,
    NotificationKind,
    NotificationRouted,
    NotificationRoutedPayload,
    RoutedRecipient,
    Submitter,
)
from schemas.v1.topics import TOPICS, Topic

__all__ = [
    "TOPICS",
    "AcknowledgementView",
    "Actor",
    "AuditAction",
    "AuditEvent",
    "AuditEventPayload",
    "Category",
    "ChronologyEntry",
    "ConcernAccepted",
    "ConcernReceived",
    "ConcernReceivedPayload",
    "ConcernRouted",
    "ConcernRoutedPayload",
    "ConcernStatusView",
    "ConcernSubmission",
    "ConcernSubmitted",
    "Consent",
    "DisclosedConcern",
    "DisclosedSubject",
    "Envelope",
    "HouseholdMember",
    "LawfulBasis",
    "Location",
    "NotificationKind",
    "NotificationPage",
    "NotificationRouted",
    "NotificationRoutedPayload",
    "NotificationStatus",
    "NotificationView",
    "RecipientView",
    "Reporter",
    "RoutedRecipient",
    "Severity",
    "Subject",
    "Submitter",
    "Topic",
    "new_event_id",
]
