"""An in-memory routing unit of work for service-layer tests: dicts that commit or roll back."""

from __future__ import annotations

import copy
import dataclasses
import uuid
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self
from uuid import UUID

from schemas.v1 import ChronologyEntry, ConcernReceivedPayload, NotificationRoutedPayload
from schemas.v1.concern import ConcernSubmission
from services.routing.routing import (
    IndexedChild,
    IndexedConcerns,
    KnownChild,
    TakenUp,
    chronology_entry,
)
from services.routing.state import ChangeEntry, DecisionRecord, InboxQuery, StoredNotification
from services.routing.views import worklist_key
from tests.unit.fakes import FakeOutbox, FakeProcessedEvents

CHILDREN = uuid.UUID("5f0c2a3e-0000-4000-8000-000000000000")


# Children are ordered by when they were made; the fake counts them from here.
CREATED = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Child:
    """A child of the index: in which order it was created, and its alert state."""

    created: int
    last_alerted_at: datetime | None = None


@dataclass
class RoutingState:
    """Everything routing's tables hold, as plain values."""

    notifications: dict[UUID, StoredNotification] = field(default_factory=dict)
    concerns: dict[UUID, ConcernSubmission] = field(default_factory=dict)
    children: dict[UUID, Child] = field(default_factory=dict)
    child_keys: dict[str, UUID] = field(default_factory=dict)
    # concern id -> (child id, its chronology entry)
    child_concerns: dict[UUID, tuple[UUID, ChronologyEntry]] = field(default_factory=dict)
    decisions: dict[UUID, list[DecisionRecord]] = field(default_factory=dict)
    changes: list[ChangeEntry] = field(default_factory=list)
    # policy_version -> (sha256, applied_at, applied_by), the first applied under the name
    policy_versions: dict[str, tuple[str, datetime, str]] = field(default_factory=dict)
    next_seq: int = 1
    children_made: int = 0


class FakeNotifications:
    """Notifications in the unit of work's state; an id stored twice fails, as the key would."""

    def __init__(self, uow: FakeRoutingUnitOfWork) -> None:
        self._uow = uow

    async def add(self, routed: Sequence[NotificationRoutedPayload]) -> None:
        state = self._uow.state
        for n in routed:
            if n.notification_id in state.notifications:
                raise ValueError(f"duplicate notification {n.notification_id}")
            state.notifications[n.notification_id] = StoredNotification(
                seq=state.next_seq, notification=n, status="new",
                acknowledged_by=None, acknowledged_at=None,
            )  # fmt: skip
            state.next_seq += 1

    async def get(self, notification_id: UUID) -> StoredNotification | None:
        return self._uow.state.notifications.get(notification_id)

    async def lock(self, notification_id: UUID) -> StoredNotification | None:
        return self._uow.state.notifications.get(notification_id)

    def _matching(self, q: InboxQuery, *, with_status: bool = True) -> list[StoredNotification]:
        return [
            s
            for s in self._uow.state.notifications.values()
            if s.notification.recipient_agency == q.agency
            and (q.concern_id is None or s.notification.concern_id == q.concern_id)
            and (q.kind is None or s.notification.kind.value == q.kind)
            and (q.severity is None or s.notification.severity.value == q.severity)
            and (q.assignee is None or s.assignee == q.assignee)
            and (not with_status or q.status is None or s.status == q.status)
        ]

    async def inbox(self, query: InboxQuery) -> list[StoredNotification]:
        found = self._matching(query)
        if query.order == "worklist":
            ordered = sorted(found, key=lambda s: worklist_key(s, query.now))
            return ordered[query.offset : query.offset + query.limit]
        newest = sorted(
            (s for s in found if query.before_seq is None or s.seq < query.before_seq),
            key=lambda s: -s.seq,
        )
        return newest[: query.limit]

    async def counts(self, query: InboxQuery) -> dict[str, int]:
        return dict(Counter(s.status for s in self._matching(query, with_status=False)))

    async def acknowledge(
        self, notification_id: UUID, *, by: str, at: datetime, role: str | None = None
    ) -> bool:
        stored = self._uow.state.notifications[notification_id]
        if stored.acknowledged_at is not None:
            return False
        self._uow.state.notifications[notification_id] = dataclasses.replace(
            stored, status="acknowledged", acknowledged_by=by, acknowledged_at=at,
            acknowledged_by_role=role,
        )  # fmt: skip
        return True

    async def assign(self, notification_id: UUID, *, assignee: str) -> bool:
        stored = self._uow.state.notifications[notification_id]
        if stored.assignee == assignee:
            return False
        self._uow.state.notifications[notification_id] = dataclasses.replace(
            stored, assignee=assignee
        )
        return True

    async def claim_overdue(self, *, now: datetime, limit: int) -> list[StoredNotification]:
        state = self._uow.state
        overdue = sorted(
            (
                s
                for s in state.notifications.values()
                if s.notification.kind.value == "concern"
                and s.status == "new"
                and s.notification.acknowledge_by < now
            ),
            key=lambda s: s.notification.acknowledge_by,
        )[:limit]
        claimed = [dataclasses.replace(s, status="escalated") for s in overdue]
        for s in claimed:
            state.notifications[s.notification.notification_id] = s
        return sorted(claimed, key=lambda s: s.seq)

    async def claim_undecided(self, *, now: datetime, limit: int) -> list[StoredNotification]:
        state = self._uow.state
        undecided = sorted(
            (
                s
                for s in state.notifications.values()
                if s.notification.kind.value in ("concern", "cumulative_concern")
                and s.decided_at is None
                and s.decision_escalated_at is None
                and s.notification.decide_by is not None
                and s.notification.decide_by < now
            ),
            key=lambda s: (s.notification.decide_by, s.seq),
        )[:limit]
        claimed = [
            dataclasses.replace(s, status="escalated", decision_escalated_at=now) for s in undecided
        ]
        for s in claimed:
            state.notifications[s.notification.notification_id] = s
        return sorted(claimed, key=lambda s: s.seq)


class FakeDecisions:
    """Decision histories in the unit of work's state; a revision stored twice fails."""

    def __init__(self, uow: FakeRoutingUnitOfWork) -> None:
        self._uow = uow

    async def record(self, record: DecisionRecord) -> None:
        state = self._uow.state
        history = state.decisions.setdefault(record.notification_id, [])
        if any(r.revision == record.revision for r in history):
            raise ValueError(f"duplicate revision {record.revision}")
        history.append(record)
        stored = state.notifications[record.notification_id]
        state.notifications[record.notification_id] = dataclasses.replace(
            stored, status="decided", decision=record.decision,
            decision_label=record.decision_label, decided_at=record.decided_at,
            revision=record.revision,
        )  # fmt: skip

    async def history(self, notification_id: UUID) -> list[DecisionRecord]:
        return sorted(self._uow.state.decisions.get(notification_id, []), key=lambda r: r.revision)


class FakeChangeLog:
    """The change log in the unit of work's state, numbered as it is appended."""

    def __init__(self, uow: FakeRoutingUnitOfWork) -> None:
        self._uow = uow

    async def append(self, entries: Sequence[ChangeEntry]) -> None:
        state = self._uow.state
        for entry in entries:
            state.changes.append(dataclasses.replace(entry, seq=len(state.changes) + 1))

    async def newest(self) -> int:
        return len(self._uow.state.changes)

    async def after(
        self, *, agency: str, after_seq: int, limit: int, concern_id: UUID | None = None
    ) -> list[tuple[ChangeEntry, StoredNotification]]:
        state = self._uow.state
        found = [
            (entry, state.notifications[entry.notification_id])
            for entry in state.changes
            if entry.agency == agency
            and entry.seq > after_seq
            and (
                concern_id is None
                or state.notifications[entry.notification_id].notification.concern_id == concern_id
            )
        ]
        return found[:limit]


class FakePolicyVersions:
    """Policy versions in the unit of work's state: the first text under a name stays."""

    def __init__(self, uow: FakeRoutingUnitOfWork) -> None:
        self._uow = uow

    async def sha256_of(self, policy_version: str) -> str | None:
        found = self._uow.state.policy_versions.get(policy_version)
        return None if found is None else found[0]

    async def record(
        self, *, policy_version: str, sha256: str, applied_at: datetime, applied_by: str
    ) -> str:
        known = self._uow.state.policy_versions.setdefault(
            policy_version, (sha256, applied_at, applied_by)
        )
        return known[0]


class FakeConcerns:
    """Routed concerns in the unit of work's state."""

    def __init__(self, uow: FakeRoutingUnitOfWork) -> None:
        self._uow = uow

    async def add(self, received: Sequence[ConcernReceivedPayload]) -> None:
        for r in received:
            self._uow.state.concerns.setdefault(r.concern_id, r.concern)

    async def find(self, concern_ids: Sequence[UUID]) -> dict[UUID, ConcernSubmission]:
        known = self._uow.state.concerns
        return {concern_id: known[concern_id] for concern_id in concern_ids if concern_id in known}


class FakeChildIndex:
    """The child index as store_children keeps it: what shares a key is one child, the oldest."""

    def __init__(self, uow: FakeRoutingUnitOfWork) -> None:
        self._uow = uow

    async def take_up(self, event_ids: Sequence[UUID], keys: Sequence[str]) -> TakenUp:
        state = self._uow.state
        known = {
            key: KnownChild(
                state.child_keys[key],
                CREATED + timedelta(microseconds=state.children[state.child_keys[key]].created),
            )
            for key in keys
            if key in state.child_keys
        }
        return TakenUp(await self._uow.processed.first_deliveries(event_ids), known)

    async def record_concerns(
        self,
        concerns: Sequence[tuple[Sequence[str], ConcernReceivedPayload]],
        *,
        known: Mapping[str, KnownChild],
        now: datetime,
    ) -> IndexedConcerns:
        state = self._uow.state
        parent: dict[object, object] = {}

        def root(node: object) -> object:
            while parent.setdefault(node, node) != node:
                node = parent[node]
            return node

        def join(a: object, b: object) -> None:
            parent[root(a)] = root(b)

        for index, (keys, _) in enumerate(concerns):
            for key in keys:
                join(("concern", index), ("key", key))
                if key in state.child_keys:
                    join(("key", key), ("child", state.child_keys[key]))
        chosen: dict[object, UUID] = {}
        for index in range(len(concerns)):
            group = root(("concern", index))
            if group in chosen:
                continue
            existing = sorted(
                {c for c in state.children if root(("child", c)) == group},
                key=lambda c: (state.children[c].created, c),
            )
            if existing:
                chosen[group] = existing[0]
                self._merge(into=existing[0], others=existing[1:])
            else:
                chosen[group] = uuid.uuid5(CHILDREN, str(state.children_made))
                state.children[chosen[group]] = Child(created=state.children_made)
                state.children_made += 1
        result = []
        for index, (keys, received) in enumerate(concerns):
            child_id = chosen[root(("concern", index))]
            for key in keys:
                state.child_keys.setdefault(key, child_id)
            state.child_concerns.setdefault(
                received.concern_id, (child_id, chronology_entry(received))
            )
            result.append(IndexedChild(child_id, state.children[child_id].last_alerted_at))
        return IndexedConcerns(result, await self.chronologies({c.child_id for c in result}))

    def _merge(self, *, into: UUID, others: list[UUID]) -> None:
        state = self._uow.state
        alerts = [state.children[c].last_alerted_at for c in [into, *others]]
        state.children[into].last_alerted_at = max((a for a in alerts if a), default=None)
        for key, child_id in state.child_keys.items():
            if child_id in others:
                state.child_keys[key] = into
        for concern_id, (child_id, entry) in state.child_concerns.items():
            if child_id in others:
                state.child_concerns[concern_id] = (into, entry)
        for child_id in others:
            del state.children[child_id]

    async def chronologies(self, child_ids: Collection[UUID]) -> dict[UUID, list[ChronologyEntry]]:
        """Each child's concerns, oldest first."""
        found: dict[UUID, list[ChronologyEntry]] = {child_id: [] for child_id in child_ids}
        for child_id, entry in self._uow.state.child_concerns.values():
            if child_id in found:
                found[child_id].append(entry)
        for entries in found.values():
            entries.sort(key=lambda entry: (entry.received_at, entry.concern_id))
        return found

    async def mark_alerted(self, alerted: Mapping[UUID, datetime]) -> None:
        for child_id, at in alerted.items():
            self._uow.state.children[child_id].last_alerted_at = at

    async def child_ids(self, concern_ids: Sequence[UUID]) -> dict[UUID, UUID]:
        known = self._uow.state.child_concerns
        return {c: known[c][0] for c in concern_ids if c in known}


class FakeRoutingUnitOfWork:
    """Routing's unit of work in memory: what is not committed when it ends is forgotten."""

    def __init__(self) -> None:
        self.committed = RoutingState()
        self.state = RoutingState()
        self.commits = 0
        self.notifications = FakeNotifications(self)
        self.concerns = FakeConcerns(self)
        self.children = FakeChildIndex(self)
        self.decisions = FakeDecisions(self)
        self.changes = FakeChangeLog(self)
        self.policy_versions = FakePolicyVersions(self)
        self.outbox = FakeOutbox()
        self.processed = FakeProcessedEvents()

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
        self.processed.rollback()

    async def commit(self) -> None:
        self.committed = copy.deepcopy(self.state)
        self.outbox.commit()
        self.processed.commit()
        self.commits += 1

    def stored(self) -> list[StoredNotification]:
        """Every committed notification, in the order it was stored."""
        return sorted(self.committed.notifications.values(), key=lambda s: s.seq)
