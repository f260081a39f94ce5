"""Routing's unit of work: the repositories its use cases need, committed together once.

`RoutingUnitOfWork` is what the use cases in service.py see; `SqlRoutingUnitOfWork` is the real
one over one SQLAlchemy transaction, wrapping store.py, store_children.py and store_policies.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.v1 import ConcernReceivedPayload, NotificationRoutedPayload
from schemas.v1.concern import ConcernSubmission
from services.common.db import UnitOfWork
from services.common.outbox import (
    Outbox,
    OutboxBatch,
    SessionOutbox,
    outbox_table,
)
from services.common.runtime import ServiceRuntime
from services.common.transaction import Transaction
from services.routing import store, store_casework, store_children, store_policies
from services.routing.repositories import ChangeLog, Decisions, SqlChangeLog, SqlDecisions
from services.routing.routing import IndexedConcerns, KnownChild, TakenUp
from services.routing.state import InboxQuery, StoredNotification


class Notifications(Protocol):
    """Routing's notifications and their inbox state."""

    async def add(self, routed: Sequence[NotificationRoutedPayload]) -> None:
        """Store notifications for their recipients' inboxes, in this order."""

    async def get(self, notification_id: UUID) -> StoredNotification | None:
        """A notification by id, whoever it is for."""

    async def lock(self, notification_id: UUID) -> StoredNotification | None:
        """A notification by id, held against other changes until the commit."""

    async def inbox(self, query: InboxQuery) -> list[StoredNotification]:
        """An agency's notifications, filtered, in the query's order, from its cursor."""

    async def counts(self, query: InboxQuery) -> dict[str, int]:
        """Per status, the agency's notifications matching every filter of the query but status."""

    async def acknowledge(
        self, notification_id: UUID, *, by: str, at: datetime, role: str | None = None
    ) -> bool:
        """Record the first acknowledgement; False if it was acknowledged already."""

    async def assign(self, notification_id: UUID, *, assignee: str) -> bool:
        """Give a notification to someone; False if it was theirs already."""

    async def claim_overdue(self, *, now: datetime, limit: int) -> list[StoredNotification]:
        """Mark unacknowledged concern notifications past their deadline escalated; return them."""

    async def claim_undecided(self, *, now: datetime, limit: int) -> list[StoredNotification]:
        """Mark notifications undecided past their decision deadline escalated; return them."""


class Concerns(Protocol):
    """Routed concerns as received, for escalations that cut them for a new recipient."""

    async def add(self, received: Sequence[ConcernReceivedPayload]) -> None:
        """Keep these concerns (once each)."""

    async def find(self, concern_ids: Sequence[UUID]) -> dict[UUID, ConcernSubmission]:
        """The stored concerns among these ids, by id."""


class ChildIndex(Protocol):
    """Who each concern is about, and each child's chronology and alert state."""

    async def take_up(self, event_ids: Sequence[UUID], keys: Sequence[str]) -> TakenUp:
        """Record these events as handled and lock these match keys for the transaction; the
        events not handled before, and the children the keys already name."""

    async def record_concerns(
        self,
        concerns: Sequence[tuple[Sequence[str], ConcernReceivedPayload]],
        *,
        known: Mapping[str, KnownChild],
        now: datetime,
    ) -> IndexedConcerns:
        """The child of each (match keys, concern), found, created or merged, concern added;
        each of those children's concerns, oldest first. The keys are locked by take_up(), and
        `known` is what it found."""

    async def mark_alerted(self, alerted: Mapping[UUID, datetime]) -> None:
        """Record, per child, the received time of the concern that raised its latest alert."""

    async def child_ids(self, concern_ids: Sequence[UUID]) -> dict[UUID, UUID]:
        """The child each of these concerns is about, by concern id."""


class PolicyVersions(Protocol):
    """Each partnership policy version routing has put in force, by name, across restarts."""

    async def sha256_of(self, policy_version: str) -> str | None:
        """The SHA-256 on record under this name, None if it was never applied."""

    async def record(
        self, *, policy_version: str, sha256: str, applied_at: datetime, applied_by: str
    ) -> str:
        """Record a version the first time it is applied; return the SHA-256 on record."""


class RoutingUnitOfWork(Transaction, Protocol):
    """One transaction over routing's repositories and its outbox (the child index records the
    events a batch handles: take_up())."""

    notifications: Notifications
    concerns: Concerns
    children: ChildIndex
    decisions: Decisions
    changes: ChangeLog
    policy_versions: PolicyVersions
    outbox: Outbox


class SqlNotifications:
    """Notifications in routing's tables, in one session's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, routed: Sequence[NotificationRoutedPayload]) -> None:
        """Store notifications in one statement."""
        await store.add_notifications(self._session, routed)

    async def get(self, notification_id: UUID) -> StoredNotification | None:
        """A notification by id."""
        return await store.find_notification(self._session, notification_id)

    async def lock(self, notification_id: UUID) -> StoredNotification | None:
        """A notification by id, its row locked until the commit."""
        return await store_casework.lock_notification(self._session, notification_id)

    async def inbox(self, query: InboxQuery) -> list[StoredNotification]:
        """An agency's notifications, in the query's order."""
        return await store.list_notifications(self._session, query)

    async def counts(self, query: InboxQuery) -> dict[str, int]:
        """Per status, how many match."""
        return await store.count_by_status(self._session, query)

    async def acknowledge(
        self, notification_id: UUID, *, by: str, at: datetime, role: str | None = None
    ) -> bool:
        """Record the first acknowledgement."""
        return await store.acknowledge(self._session, notification_id, by=by, at=at, role=role)

    async def assign(self, notification_id: UUID, *, assignee: str) -> bool:
        """Give a notification to someone."""
        return await store_casework.assign(self._session, notification_id, assignee=assignee)

    async def claim_overdue(self, *, now: datetime, limit: int) -> list[StoredNotification]:
        """Claim overdue notifications, skipping rows another process holds."""
        return await store.claim_overdue_notifications(self._session, now=now, limit=limit)

    async def claim_undecided(self, *, now: datetime, limit: int) -> list[StoredNotification]:
        """Claim undecided notifications, skipping rows another process holds."""
        return await store_casework.claim_undecided_notifications(
            self._session, now=now, limit=limit
        )


class SqlConcerns:
    """Routed concerns in routing's table, in one session's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, received: Sequence[ConcernReceivedPayload]) -> None:
        """Keep these concerns in one statement."""
        await store.add_concerns(self._session, received)

    async def find(self, concern_ids: Sequence[UUID]) -> dict[UUID, ConcernSubmission]:
        """The stored concerns among these ids."""
        return await store.find_concerns(self._session, concern_ids)


class SqlChildIndex:
    """The child index in routing's tables, in one session's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def take_up(self, event_ids: Sequence[UUID], keys: Sequence[str]) -> TakenUp:
        """Handled events recorded, keys locked and looked up, in one round trip."""
        return await store_children.take_up(self._session, event_ids, keys)

    async def record_concerns(
        self,
        concerns: Sequence[tuple[Sequence[str], ConcernReceivedPayload]],
        *,
        known: Mapping[str, KnownChild],
        now: datetime,
    ) -> IndexedConcerns:
        """Find, create or merge each concern's child, locked for this transaction."""
        return await store_children.record_concerns(self._session, concerns, known=known, now=now)

    async def mark_alerted(self, alerted: Mapping[UUID, datetime]) -> None:
        """Record each child's latest alert."""
        await store_children.mark_alerted(self._session, alerted)

    async def child_ids(self, concern_ids: Sequence[UUID]) -> dict[UUID, UUID]:
        """The child of each concern, merges followed."""
        return await store_children.find_child_ids(self._session, concern_ids)


class SqlPolicyVersions:
    """Policy versions in routing's table, in one session's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def sha256_of(self, policy_version: str) -> str | None:
        """The SHA-256 on record under this name."""
        return await store_policies.find_policy_sha256(self._session, policy_version)

    async def record(
        self, *, policy_version: str, sha256: str, applied_at: datetime, applied_by: str
    ) -> str:
        """Insert the version unless its name is on record; the SHA-256 on record."""
        return await store_policies.add_policy_version(
            self._session,
            policy_version=policy_version,
            sha256=sha256,
            applied_at=applied_at,
            applied_by=applied_by,
        )


class SqlRoutingUnitOfWork:
    """Routing's repositories over one database transaction: commit once, else roll back."""

    notifications: Notifications
    concerns: Concerns
    children: ChildIndex
    decisions: Decisions
    changes: ChangeLog
    policy_versions: PolicyVersions
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
        self.notifications = SqlNotifications(session)
        self.concerns = SqlConcerns(session)
        self.children = SqlChildIndex(session)
        self.decisions = SqlDecisions(session)
        self.changes = SqlChangeLog(session)
        self.policy_versions = SqlPolicyVersions(session)
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
        """Commit, then hand what it added to whoever publishes the outbox."""
        await self._uow.commit()
        added = self._added.take_added()
        if self._after_commit is not None and added:
            self._after_commit(added)


def routing_unit_of_work(runtime: ServiceRuntime) -> SqlRoutingUnitOfWork:
    """A unit of work on routing's database; each commit hands its events to the outbox relay."""
    return SqlRoutingUnitOfWork(
        runtime.unit_of_work(),
        outbox=runtime.outbox,
        after_commit=runtime.relay.hand,
    )
