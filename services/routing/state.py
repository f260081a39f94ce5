"""Pure: a notification's state in its recipient's inbox, its decisions, and its change log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from schemas.v1 import NotificationRoutedPayload
from schemas.v1.events import NotificationChange

SEVERITY_RANK = {"immediate": 4, "high": 3, "medium": 2, "low": 1}
# The change log's entry for a newly stored notification; the others are NotificationChange's.
ROUTED = "routed"


@dataclass(frozen=True)
class DecisionRecord:
    """One decision or revision on a notification, as recorded: never overwritten."""

    notification_id: UUID
    revision: int
    decision: str
    decision_label: str
    rationale: str | None
    decided_by: str
    decided_by_role: str
    decided_at: datetime


@dataclass(frozen=True)
class StoredNotification:
    """A notification with its inbox state."""

    seq: int
    notification: NotificationRoutedPayload
    status: str
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    acknowledged_by_role: str | None = None
    assignee: str | None = None
    # The latest decision (its rationale and who made it are in the decision history).
    decision: str | None = None
    decision_label: str | None = None
    decided_at: datetime | None = None
    revision: int | None = None
    decision_escalated_at: datetime | None = None
    # When the concern's personal content was removed under the retention policy.
    content_removed_at: datetime | None = None

    @property
    def notification_id(self) -> UUID:
        """The notification's id."""
        return self.notification.notification_id


@dataclass(frozen=True)
class ChangeEntry:
    """One line of an agency's change log: a notification stored (`routed`) or changed."""

    agency: str
    notification_id: UUID
    change: str
    seq: int = 0


def routed_entries(notifications: Sequence[NotificationRoutedPayload]) -> list[ChangeEntry]:
    """The change-log lines of newly stored notifications, one each for its recipient."""
    return [ChangeEntry(n.recipient_agency, n.notification_id, ROUTED) for n in notifications]


def change_entry(stored: StoredNotification, change: NotificationChange) -> ChangeEntry:
    """The change-log line of one change to a notification, for its recipient agency."""
    return ChangeEntry(stored.notification.recipient_agency, stored.notification_id, change.value)


@dataclass(frozen=True)
class InboxQuery:
    """Which of an agency's notifications to list, in which order, from where."""

    agency: str
    limit: int
    now: datetime
    before_seq: int | None = None
    offset: int = 0
    concern_id: UUID | None = None
    kind: str | None = None
    status: str | None = None
    severity: str | None = None
    assignee: str | None = None
    # newest: by arrival, newest first (cursor: before_seq); worklist: overdue first, then by
    # due time, then by severity (cursor: offset).
    order: str = "newest"
