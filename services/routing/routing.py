"""Pure: what routing a batch of received concerns does, decided in one place.

No I/O and no clock: the children, their chronologies and `now` are passed in, and the
notifications to store, the events to publish and the alert state to record come back as values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from schemas.v1 import ChronologyEntry, ConcernReceived, ConcernReceivedPayload
from schemas.v1 import NotificationRoutedPayload as Notification
from services.common.messages import OutboxMessage
from services.partnership import Partnership
from services.routing import policy
from services.routing.announcements import alert_events, routed_events
from services.routing.notifications import concern_notifications, cumulative_alert


@dataclass(frozen=True)
class IndexedChild:
    """The child a concern is about, as the child index knows it, with its alert state."""

    child_id: UUID
    last_alerted_at: datetime | None


@dataclass(frozen=True)
class KnownChild:
    """A child the index already knows by a key."""

    child_id: UUID
    created_at: datetime


@dataclass(frozen=True)
class TakenUp:
    """A batch taken up: its events not handled before, and the children its keys (locked for
    the transaction) already name."""

    fresh: set[UUID]
    known: dict[str, KnownChild]


@dataclass(frozen=True)
class IndexedConcerns:
    """A batch's concerns in the child index: each one's child, in batch order, and each of
    those children's chronology (its concerns, the batch's included, oldest first)."""

    children: list[IndexedChild]
    chronologies: dict[UUID, list[ChronologyEntry]]


@dataclass(frozen=True)
class ConcernOutcome:
    """Where one concern of the batch went, for the log: ids and agency ids only."""

    concern_id: UUID
    correlation_id: str
    child_id: UUID
    recipients: tuple[str, ...]
    cumulative_alert: str | None


@dataclass(frozen=True)
class RoutedBatch:
    """Everything routing a batch decided, in the order it must be stored and published."""

    notifications: tuple[Notification, ...] = ()
    messages: tuple[OutboxMessage, ...] = ()
    # Per child, the received time of the concern that raised its newest alert.
    newly_alerted: Mapping[UUID, datetime] = field(default_factory=dict)
    outcomes: tuple[ConcernOutcome, ...] = ()


def first_deliveries_of(
    events: Iterable[ConcernReceived], fresh: set[UUID]
) -> list[ConcernReceived]:
    """The events not handled before, each once, in the order they came."""
    return list({e.event_id: e for e in events if e.event_id in fresh}.values())


def child_index_entries(
    batch: Sequence[ConcernReceived], *, secret: bytes
) -> dict[UUID, tuple[list[str], ConcernReceivedPayload]]:
    """Each concern with the keys the child index recognises its child by, by event id."""
    return {
        e.event_id: (policy.child_match_keys(e.payload.concern.subject, secret=secret), e.payload)
        for e in batch
    }


def route_batch(
    batch: Sequence[ConcernReceived],
    children: Sequence[IndexedChild],
    chronologies: Mapping[UUID, Sequence[ChronologyEntry]],
    *,
    partnership: Partnership,
    now: datetime,
) -> RoutedBatch:
    """Route each concern, add it to its child's chronology, and alert when the child's are due.

    `children` holds each concern's child, in batch order; `chronologies` each child's concerns
    as stored (the batch's own are set aside and joined in order, as if routed one by one). The
    outcome is the same as routing the concerns one at a time in the order they came.
    """
    in_batch = {e.payload.concern_id for e in batch}
    known = {
        child_id: [entry for entry in entries if entry.concern_id not in in_batch]
        for child_id, entries in chronologies.items()
    }
    alerted = {child.child_id: child.last_alerted_at for child in children}
    newly_alerted: dict[UUID, datetime] = {}
    stored: list[Notification] = []
    outgoing: list[OutboxMessage] = []
    outcomes: list[ConcernOutcome] = []
    for event, child in zip(batch, children, strict=True):
        received = event.payload
        decision = policy.decide_recipients(
            received.concern,
            source_agency=received.source_agency,
            received_at=received.received_at,
            partnership=partnership,
        )
        chronology = known.setdefault(child.child_id, [])
        chronology.append(chronology_entry(received))
        chronology.sort(key=lambda entry: (entry.received_at, entry.concern_id))
        alert, as_of = _cumulative_alert(
            received, chronology, child.child_id, alerted[child.child_id], partnership
        )
        notifications = concern_notifications(received, decision, child_id=child.child_id)
        # The alert is stored first, so a newest-first inbox lists the concern above it.
        stored += ([alert] if alert else []) + notifications
        outgoing += routed_events(
            received,
            notifications,
            policy_version=decision.policy_version,
            routed_at=now,
            correlation_id=event.correlation_id,
            child_key=str(child.child_id),
        )
        if alert:
            alerted[child.child_id] = newly_alerted[child.child_id] = as_of
            outgoing += alert_events(alert, routed_at=now, correlation_id=event.correlation_id)
        outcomes.append(
            ConcernOutcome(
                concern_id=received.concern_id,
                correlation_id=event.correlation_id,
                child_id=child.child_id,
                recipients=tuple(n.recipient_agency for n in notifications),
                cumulative_alert=alert.recipient_agency if alert else None,
            )
        )
    return RoutedBatch(
        notifications=tuple(stored),
        messages=tuple(outgoing),
        newly_alerted=newly_alerted,
        outcomes=tuple(outcomes),
    )


def chronology_entry(received: ConcernReceivedPayload) -> ChronologyEntry:
    """A received concern as its child's chronology holds it: when, what, from whom."""
    concern = received.concern
    return ChronologyEntry(
        concern_id=received.concern_id,
        received_at=received.received_at,
        occurred_at=concern.occurred_at,
        category=concern.category,
        severity=concern.severity,
        source_agency=received.source_agency,
    )


def _cumulative_alert(
    received: ConcernReceivedPayload,
    chronology: list[ChronologyEntry],
    child_id: UUID,
    already_alerted_at: datetime | None,
    partnership: Partnership,
) -> tuple[Notification | None, datetime]:
    """The alert this concern raises, if the child's concerns now cross the threshold."""
    # Concerns about one child may be routed out of their received order (concerns.received is
    # keyed by concern), so judge the window as of the newest concern known, not this one.
    as_of = max(entry.received_at for entry in chronology)
    if not policy.cumulative_alert_due(
        chronology,
        received_at=as_of,
        partnership=partnership,
        already_alerted_at=already_alerted_at,
    ):
        return None, as_of
    alert = cumulative_alert(received, chronology, partnership, child_id=child_id, as_of=as_of)
    return alert, as_of
