"""Delivery's unit of work: its deliveries, its gone destinations and its outbox, committed once.

`DeliveryUnitOfWork` is what the use cases in service.py see; `SqlDeliveryUnitOfWork` is the real
one over one SQLAlchemy transaction, wrapping store.py.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.v1.delivery import DeliveryStatus
from services.common.db import UnitOfWork
from services.common.outbox import (
    Outbox,
    OutboxBatch,
    SessionOutbox,
    outbox_table,
)
from services.common.runtime import ServiceRuntime
from services.common.transaction import Transaction
from services.delivery import store
from services.delivery.deliveries import Delivery, DestinationKey, NewDelivery, Outcome
from services.delivery.policy import Lease


class Deliveries(Protocol):
    """One delivery per notification and destination, and its state."""

    async def record(self, new: Sequence[NewDelivery], *, now: datetime) -> set[DestinationKey]:
        """Record these, due now (disabled for a disabled destination); repeats ignored. The
        disabled destinations among them."""

    async def claim_due(
        self, key: DestinationKey, *, now: datetime, limit: int, lease: Lease
    ) -> list[Delivery]:
        """Take up to `limit` due deliveries of a destination for one attempt each, hidden until
        their lease ends."""

    async def record_outcomes(self, outcomes: Sequence[Outcome]) -> None:
        """Set deliveries' states after their attempts."""

    async def get(self, delivery_id: UUID) -> Delivery | None:
        """A delivery by id, whichever agency it is for."""

    async def find(
        self, *, agency: str, status: DeliveryStatus | None, limit: int, before_seq: int | None
    ) -> list[Delivery]:
        """An agency's deliveries, newest first."""

    async def make_due(self, delivery_ids: Sequence[UUID], *, now: datetime) -> None:
        """Back to pending, due now, with a fresh window; attempts kept."""


class Destinations(Protocol):
    """Destinations that answered 410 Gone, and are not tried until taken back."""

    async def disable(
        self, key: DestinationKey, *, now: datetime, delivery_id: UUID
    ) -> list[UUID] | None:
        """Disable a destination and its pending deliveries; the ids disabled (None if it was
        disabled already)."""

    async def enable(self, key: DestinationKey) -> list[UUID]:
        """Take a destination back; the ids of its disabled deliveries."""


class DeliveryUnitOfWork(Transaction, Protocol):
    """One transaction over delivery's repositories and its outbox."""

    deliveries: Deliveries
    destinations: Destinations
    outbox: Outbox


class SqlDeliveries:
    """Deliveries in delivery's table, in one session's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(self, new: Sequence[NewDelivery], *, now: datetime) -> set[DestinationKey]:
        """Record these, their destinations' locks and lookup included, in one round trip."""
        return await store.record_deliveries(self._session, new, now=now)

    async def claim_due(
        self, key: DestinationKey, *, now: datetime, limit: int, lease: Lease
    ) -> list[Delivery]:
        """Claim in one statement, skipping rows another process holds."""
        return await store.claim_due(self._session, key, now=now, limit=limit, lease=lease)

    async def record_outcomes(self, outcomes: Sequence[Outcome]) -> None:
        """Set the rows' states in one statement."""
        await store.record_outcomes(self._session, outcomes)

    async def get(self, delivery_id: UUID) -> Delivery | None:
        """A delivery by id."""
        return await store.get_delivery(self._session, delivery_id)

    async def find(
        self, *, agency: str, status: DeliveryStatus | None, limit: int, before_seq: int | None
    ) -> list[Delivery]:
        """An agency's deliveries, newest first."""
        return await store.find_deliveries(
            self._session, agency=agency, status=status, limit=limit, before_seq=before_seq
        )

    async def make_due(self, delivery_ids: Sequence[UUID], *, now: datetime) -> None:
        """Back to pending in one statement."""
        await store.make_due(self._session, delivery_ids, now=now)


class SqlDestinations:
    """Disabled destinations in delivery's table, in one session's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def disable(
        self, key: DestinationKey, *, now: datetime, delivery_id: UUID
    ) -> list[UUID] | None:
        """Disable it and its pending deliveries (None if it was already)."""
        return await store.disable_destination(self._session, key, now=now, delivery_id=delivery_id)

    async def enable(self, key: DestinationKey) -> list[UUID]:
        """Take it back."""
        return await store.enable_destination(self._session, key)


class SqlDeliveryUnitOfWork:
    """Delivery's repositories over one database transaction: commit once, else roll back."""

    deliveries: Deliveries
    destinations: Destinations
    outbox: Outbox

    def __init__(
        self,
        uow: UnitOfWork,
        *,
        outbox: Table | None = None,
        after_commit: Callable[[Sequence[OutboxBatch]], None] | None = None,
    ) -> None:
        self._uow = uow
        self._outbox = outbox if outbox is not None else outbox_table(store.metadata)
        self._after_commit = after_commit

    async def __aenter__(self) -> Self:
        await self._uow.__aenter__()
        session = self._uow.session
        self.deliveries = SqlDeliveries(session)
        self.destinations = SqlDestinations(session)
        self.outbox = self._added = SessionOutbox(session, self._outbox)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._uow.__aexit__(exc_type, exc, tb)

    async def commit(self) -> None:
        """Commit, then hand what it added to the outbox relay."""
        await self._uow.commit()
        # Recording deliveries adds no event: nothing to hand over.
        added = self._added.take_added()
        if self._after_commit is not None and added:
            self._after_commit(added)


def delivery_unit_of_work(
    runtime: ServiceRuntime, *, wakes_relay: bool = True
) -> SqlDeliveryUnitOfWork:
    """A unit of work on delivery's database; a commit adding events hands them to the outbox
    relay, woken now (unless told not to: they go out on its next round)."""
    return SqlDeliveryUnitOfWork(
        runtime.unit_of_work(),
        outbox=runtime.outbox,
        after_commit=functools.partial(runtime.relay.hand, wake=wakes_relay),
    )
