"""Pure: what one delivery is, the deliveries a routed notification makes, and the destinations
a partnership serves."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NamedTuple
from uuid import UUID

from schemas.v1 import NotificationRouted
from schemas.v1.delivery import DeliveredNotification, DeliveryStatus, DeliveryView
from services.partnership import KafkaDestination, Partnership, WebhookDestination

DELIVERY_IDS = uuid.UUID("6d1e7c1a-5b2f-4f0e-9a3d-2c4b8e9f0a17")
Kind = Literal["webhook", "kafka"]
Destination = WebhookDestination | KafkaDestination


class DestinationKey(NamedTuple):
    """One destination of one agency."""

    agency: str
    destination: str


@dataclass(frozen=True)
class DestinationChanges:
    """How one partnership's destinations differ from another's, by key."""

    added: frozenset[DestinationKey] = frozenset()
    removed: frozenset[DestinationKey] = frozenset()
    changed: frozenset[DestinationKey] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


def destinations_of(partnership: Partnership) -> dict[DestinationKey, Destination]:
    """Every destination of every agency: the ones deliveries are recorded for and sent to."""
    return {
        DestinationKey(agency.id, destination.id): destination
        for agency in partnership.agencies
        for destination in agency.deliveries
    }


def destination_changes(
    before: dict[DestinationKey, Destination], after: dict[DestinationKey, Destination]
) -> DestinationChanges:
    """What `after` adds, removes, and serves with other settings (url, secret_env, kind)."""
    return DestinationChanges(
        added=frozenset(after.keys() - before.keys()),
        removed=frozenset(before.keys() - after.keys()),
        changed=frozenset(k for k in before.keys() & after.keys() if before[k] != after[k]),
    )


@dataclass(frozen=True)
class Delivery:
    """One notification to one destination, and how far its delivery has got."""

    delivery_id: UUID
    seq: int
    event_id: UUID
    notification_id: UUID
    concern_id: UUID
    agency: str
    destination: str
    kind: Kind
    body: str
    correlation_id: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    window_started_at: datetime
    created_at: datetime
    last_status_code: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None

    @property
    def key(self) -> DestinationKey:
        """The destination it goes to."""
        return DestinationKey(self.agency, self.destination)

    def view(self) -> DeliveryView:
        """As a delivery admin sees it: ids and state, never the body."""
        return DeliveryView(
            delivery_id=self.delivery_id,
            webhook_id=self.event_id,
            notification_id=self.notification_id,
            concern_id=self.concern_id,
            agency=self.agency,
            destination=self.destination,
            kind=self.kind,
            status=self.status,
            attempts=self.attempts,
            next_attempt_at=self.next_attempt_at if self.status is DeliveryStatus.PENDING else None,
            last_status_code=self.last_status_code,
            last_error=self.last_error,
            created_at=self.created_at,
            delivered_at=self.delivered_at,
        )


@dataclass(frozen=True)
class Outcome:
    """A delivery's state after an attempt, as it is recorded."""

    delivery_id: UUID
    status: DeliveryStatus
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None


@dataclass(frozen=True)
class NewDelivery:
    """A delivery to record: due at once."""

    delivery_id: UUID
    event_id: UUID
    notification_id: UUID
    concern_id: UUID
    agency: str
    destination: str
    kind: Kind
    body: str
    correlation_id: str

    @property
    def key(self) -> DestinationKey:
        """The destination it goes to."""
        return DestinationKey(self.agency, self.destination)


def delivery_id(event_id: UUID, key: DestinationKey) -> UUID:
    """The same id every time for one event to one destination: recording it is idempotent."""
    return uuid.uuid5(DELIVERY_IDS, f"{event_id}/{key.agency}/{key.destination}")


def delivered_body(event: NotificationRouted) -> str:
    """The JSON a destination receives: the notification as its recipient sees it."""
    # Routing's child id links concerns across notifications; a caseworker is never shown it.
    delivered = DeliveredNotification(notification=event.payload)
    return delivered.model_dump_json(exclude={"notification": {"child_id"}})


def deliveries_of(events: list[NotificationRouted], partnership: Partnership) -> list[NewDelivery]:
    """One delivery per routed notification and destination of its recipient agency."""
    found: list[NewDelivery] = []
    for event in events:
        notification = event.payload
        destinations = partnership.destinations(notification.recipient_agency)
        body = delivered_body(event) if destinations else ""
        for destination in destinations:
            key = DestinationKey(notification.recipient_agency, destination.id)
            found.append(
                NewDelivery(
                    delivery_id=delivery_id(event.event_id, key),
                    event_id=event.event_id,
                    notification_id=notification.notification_id,
                    concern_id=notification.concern_id,
                    agency=key.agency,
                    destination=key.destination,
                    kind=destination.kind,
                    body=body,
                    correlation_id=event.correlation_id,
                )
            )
    return found
