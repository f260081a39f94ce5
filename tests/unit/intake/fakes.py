"""An in-memory unit of work for intake's use cases: submissions, progress, outbox, processed."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Self
from uuid import UUID

from services.common.outbox import OutboxMessage
from services.intake.model import (
    NewSubmission,
    PageCursor,
    RecipientProgress,
    Routing,
    Submission,
)
from services.intake.progress import merge_progress
from tests.unit.fakes import FakeOutbox, FakeProcessedEvents


class FakeSubmissions:
    """Submissions in a dict; what a unit of work changed is kept only once it commits."""

    def __init__(self, outbox: FakeOutbox) -> None:
        self._outbox = outbox
        self.committed: dict[UUID, Submission] = {}
        self.pending: dict[UUID, Submission] = {}
        self.routings: list[Routing] = []

    def _all(self) -> dict[UUID, Submission]:
        return self.committed | self.pending

    async def add_if_new(
        self, submission: NewSubmission, messages: Sequence[OutboxMessage]
    ) -> bool:
        taken = await self.find_by_reference(
            source_agency=submission.source_agency, source_reference=submission.source_reference
        )
        if taken is not None:
            return False
        self.pending[submission.concern_id] = Submission(
            concern_id=submission.concern_id,
            source_agency=submission.source_agency,
            source_reference=submission.source_reference,
            digest=submission.digest,
            received_at=submission.received_at,
            routed_at=None,
            recipients=None,
        )
        await self._outbox.add(messages)
        return True

    async def find_by_reference(
        self, *, source_agency: str, source_reference: str
    ) -> Submission | None:
        return next(
            (
                s
                for s in self._all().values()
                if (s.source_agency, s.source_reference) == (source_agency, source_reference)
            ),
            None,
        )

    async def find(self, concern_id: UUID) -> Submission | None:
        return self._all().get(concern_id)

    async def record_routings(self, routings: Iterable[Routing]) -> None:
        for routing in routings:
            self.routings.append(routing)
            # Like the UPDATE: a routing of a concern intake does not hold changes nothing.
            if (found := self._all().get(routing.concern_id)) is not None:
                self.pending[routing.concern_id] = dataclasses.replace(
                    found, routed_at=routing.routed_at, recipients=routing.recipients
                )

    async def agency_concerns(
        self, *, source_agency: str, limit: int, after: PageCursor | None
    ) -> list[Submission]:
        # As the index is read: newest first, the concern id breaking ties, after the cursor.
        theirs = [s for s in self._all().values() if s.source_agency == source_agency]
        if after is not None:
            theirs = [
                s
                for s in theirs
                if (s.received_at, s.concern_id) < (after.received_at, after.concern_id)
            ]
        theirs.sort(key=lambda s: (s.received_at, s.concern_id), reverse=True)
        return theirs[:limit]

    def commit(self) -> None:
        self.committed |= self.pending
        self.pending = {}

    def rollback(self) -> None:
        self.pending = {}


class FakeProgress:
    """Recipients' progress in a dict, newer state kept as the table's upsert keeps it."""

    def __init__(self) -> None:
        self.committed: dict[UUID, RecipientProgress] = {}
        self.pending: dict[UUID, RecipientProgress] = {}
        self.recorded: list[RecipientProgress] = []

    async def record(self, progress: Iterable[RecipientProgress]) -> None:
        for state in progress:
            self.recorded.append(state)
            held = (self.committed | self.pending).get(state.notification_id)
            self.pending[state.notification_id] = merge_progress(held, state)

    async def of_concerns(self, concern_ids: Iterable[UUID]) -> list[RecipientProgress]:
        wanted = set(concern_ids)
        return [p for p in (self.committed | self.pending).values() if p.concern_id in wanted]

    def commit(self) -> None:
        self.committed |= self.pending
        self.pending = {}

    def rollback(self) -> None:
        self.pending = {}


class FakeUnitOfWork:
    """Intake's unit of work in memory; anything not committed is dropped on exit."""

    def __init__(self) -> None:
        self.outbox = FakeOutbox()
        self.processed = FakeProcessedEvents()
        self.submissions = FakeSubmissions(self.outbox)
        self.progress = FakeProgress()
        self.commits = 0

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.submissions.rollback()
        self.progress.rollback()
        self.outbox.rollback()
        self.processed.rollback()

    async def commit(self) -> None:
        self.submissions.commit()
        self.progress.commit()
        self.outbox.commit()
        self.processed.commit()
        self.commits += 1
