"""An in-memory delivery unit of work for service-layer tests: dicts that commit or roll back."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Self
from uuid import UUID

from schemas.v1 import Topic
from schemas.v1.delivery import DeliveryStatus
from services.delivery.deliveries import Delivery, DestinationKey, NewDelivery, Outcome
from services.delivery.policy import Lease
from tests.unit.fakes import FakeOutbox


@dataclass
class DeliveryState:
    """Everything delivery's tables hold, as plain values."""

    deliveries: dict[UUID, Delivery] = field(default_factory=dict)
    disabled: dict[DestinationKey, UUID] = field(default_factory=dict)
    next_seq: int = 1


class FakeDeliveries:
    """Deliveries in the unit of work's state; one recorded twice is kept as it was."""

    def __init__(self, uow: FakeDeliveryUnitOfWork) -> None:
        self._uow = uow
        self.claimed_sizes: list[int] = []
        self.outcome_writes = 0
        self.outcome_destinations: list[set[DestinationKey]] = []  # each write's destinations

    def _set(self, delivery_id: UUID, **changes: Any) -> None:
        state = self._uow.state
        state.deliveries[delivery_id] = dataclasses.replace(
            state.deliveries[delivery_id], **changes
        )

    async def record(self, new: Sequence[NewDelivery], *, now: datetime) -> set[DestinationKey]:
        state = self._uow.state
        disabled = {d.key for d in new} & set(state.disabled)
        for d in new:
            if d.delivery_id in state.deliveries:
                continue
            status = DeliveryStatus.DISABLED if d.key in disabled else DeliveryStatus.PENDING
            state.deliveries[d.delivery_id] = Delivery(
                **dataclasses.asdict(d), seq=state.next_seq, status=status, attempts=0,
                next_attempt_at=now, window_started_at=now, created_at=now,
            )  # fmt: skip
            state.next_seq += 1
        return disabled

    async def claim_due(
        self, key: DestinationKey, *, now: datetime, limit: int, lease: Lease
    ) -> list[Delivery]:
        due = sorted(
            (
                d
                for d in self._uow.state.deliveries.values()
                if d.key == key
                and key not in self._uow.state.disabled
                and d.status is DeliveryStatus.PENDING
                and d.next_attempt_at is not None
                and d.next_attempt_at <= now
            ),
            key=lambda d: (d.next_attempt_at, d.seq),
        )[:limit]
        self.claimed_sizes.append(len(due))
        lease_until = lease.until(now, len(due))
        for d in due:
            self._set(d.delivery_id, attempts=d.attempts + 1, next_attempt_at=lease_until)
        return sorted((self._uow.state.deliveries[d.delivery_id] for d in due), key=lambda d: d.seq)

    async def record_outcomes(self, outcomes: Sequence[Outcome]) -> None:
        self.outcome_writes += 1
        stored = self._uow.state.deliveries
        self.outcome_destinations.append({stored[o.delivery_id].key for o in outcomes})
        for outcome in outcomes:
            status = outcome.status
            if status is DeliveryStatus.PENDING and (
                self._uow.state.deliveries[outcome.delivery_id].status is DeliveryStatus.DISABLED
            ):
                status = DeliveryStatus.DISABLED
            self._set(outcome.delivery_id, status=status, next_attempt_at=outcome.next_attempt_at,
                      last_status_code=outcome.last_status_code, last_error=outcome.last_error,
                      delivered_at=outcome.delivered_at)  # fmt: skip

    async def get(self, delivery_id: UUID) -> Delivery | None:
        return self._uow.state.deliveries.get(delivery_id)

    async def find(
        self, *, agency: str, status: DeliveryStatus | None, limit: int, before_seq: int | None
    ) -> list[Delivery]:
        found = [
            d
            for d in self._uow.state.deliveries.values()
            if d.agency == agency
            and (status is None or d.status is status)
            and (before_seq is None or d.seq < before_seq)
        ]
        return sorted(found, key=lambda d: -d.seq)[:limit]

    async def make_due(self, delivery_ids: Sequence[UUID], *, now: datetime) -> None:
        for delivery_id in delivery_ids:
            self._set(delivery_id, status=DeliveryStatus.PENDING, next_attempt_at=now,
                      window_started_at=now)  # fmt: skip


class FakeDestinations:
    """Disabled destinations in the unit of work's state."""

    def __init__(self, uow: FakeDeliveryUnitOfWork) -> None:
        self._uow = uow

    async def disable(
        self, key: DestinationKey, *, now: datetime, delivery_id: UUID
    ) -> list[UUID] | None:
        state = self._uow.state
        first = key not in state.disabled
        state.disabled.setdefault(key, delivery_id)
        pending = [
            d.delivery_id
            for d in state.deliveries.values()
            if d.key == key and d.status is DeliveryStatus.PENDING
        ]
        for other in pending:
            state.deliveries[other] = dataclasses.replace(
                state.deliveries[other], status=DeliveryStatus.DISABLED
            )
        return pending if first else None

    async def enable(self, key: DestinationKey) -> list[UUID]:
        state = self._uow.state
        state.disabled.pop(key, None)
        return [
            d.delivery_id
            for d in state.deliveries.values()
            if d.key == key and d.status is DeliveryStatus.DISABLED
        ]


class FakeDeliveryUnitOfWork:
    """Delivery's unit of work in memory: what is not committed when it ends is forgotten."""

    def __init__(self) -> None:
        self.committed = DeliveryState()
        self.state = DeliveryState()
        self.commits = 0
        self.deliveries = FakeDeliveries(self)
        self.destinations = FakeDestinations(self)
        self.outbox = FakeOutbox()

    async def __aenter__(self) -> Self:
        self.state = copy.deepcopy(self.committed)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.state = copy.deepcopy(self.committed)
        self.outbox.rollback()

    async def commit(self) -> None:
        self.committed = copy.deepcopy(self.state)
        self.outbox.commit()
        self.commits += 1

    def stored(self) -> list[Delivery]:
        """Every committed delivery, in the order it was recorded."""
        return sorted(self.committed.deliveries.values(), key=lambda d: d.seq)

    def audits(self, action: str | None = None) -> list[dict[str, Any]]:
        """The committed audit events' payloads (of one action if given), as JSON."""
        payloads = [
            m.event.model_dump(mode="json")["payload"] for m in self.outbox.on(Topic.AUDIT_EVENTS)
        ]
        return [p for p in payloads if action is None or p["action"] == action]
