"""In-memory stand-ins for the outbox and processed events, for service-layer unit tests."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from schemas.v1 import Topic
from services.common.outbox import OutboxMessage


class FakeOutbox:
    """Keeps what a unit of work added; `committed` only once it commits."""

    def __init__(self) -> None:
        self.pending: list[OutboxMessage] = []
        self.committed: list[OutboxMessage] = []

    async def add(self, messages: Iterable[OutboxMessage]) -> None:
        self.pending.extend(messages)

    def commit(self) -> None:
        self.committed.extend(self.pending)
        self.pending = []

    def rollback(self) -> None:
        self.pending = []

    def on(self, topic: Topic) -> list[OutboxMessage]:
        """The committed messages for one topic, in order."""
        return [message for message in self.committed if message.topic is topic]


class FakeProcessedEvents:
    """Event ids seen; like the table, a rolled-back unit of work forgets its own."""

    def __init__(self) -> None:
        self.seen: set[UUID] = set()
        self.pending: set[UUID] = set()

    async def first_deliveries(self, event_ids: Iterable[UUID]) -> set[UUID]:
        fresh = {event_id for event_id in event_ids if event_id not in self.seen | self.pending}
        self.pending |= fresh
        return fresh

    def commit(self) -> None:
        self.seen |= self.pending
        self.pending = set()

    def rollback(self) -> None:
        self.pending = set()
