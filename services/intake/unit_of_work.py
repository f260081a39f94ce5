"""Intake's unit of work: submissions, recipients' progress, outbox and processed events."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from services.common.outbox import (
    Outbox,
    OutboxBatch,
    OutboxMessage,
    ProcessedEvents,
    SessionOutbox,
    SessionProcessedEvents,
)
from services.common.runtime import ServiceRuntime
from services.common.transaction import Transaction
from services.intake import store, store_progress
from services.intake.model import (
    NewSubmission,
    PageCursor,
    RecipientProgress,
    Routing,
    Submission,
)


class Submissions(Protocol):
    """The concerns intake has accepted, each under its agency's source reference."""

    async def add_if_new(
        self, submission: NewSubmission, messages: Sequence[OutboxMessage]
    ) -> bool:
        """Add a submission with the outbox messages announcing it, both or neither.

        False, and nothing added, when its agency already used its source reference.
        """
        # PostgreSQL's is kept at once (one autocommit statement, the benchmarked path); use
        # cases commit after it all the same, as an implementation that waits for commit needs.

    async def find_by_reference(
        self, *, source_agency: str, source_reference: str
    ) -> Submission | None:
        """The submission an agency made under a reference, as committed."""

    async def find(self, concern_id: UUID) -> Submission | None:
        """A submission by concern id."""

    async def record_routings(self, routings: Iterable[Routing]) -> None:
        """Remember where concerns went."""

    async def agency_concerns(
        self, *, source_agency: str, limit: int, after: PageCursor | None
    ) -> list[Submission]:
        """Up to `limit` of an agency's concerns, newest first, from just after the cursor."""


class Progress(Protocol):
    """How far each recipient agency has got with the notification of a concern it was sent."""

    async def record(self, progress: Iterable[RecipientProgress]) -> None:
        """Keep each notification's newer state: the one held, or this (see merge_progress)."""

    async def of_concerns(self, concern_ids: Iterable[UUID]) -> list[RecipientProgress]:
        """The newest known state of every notification of these concerns."""


class IntakeUnitOfWork(Transaction, Protocol):
    """One use case's changes to intake's state: kept on commit, else dropped on exit."""

    @property
    def submissions(self) -> Submissions:
        """The accepted concerns."""

    @property
    def progress(self) -> Progress:
        """How far each recipient has got."""

    @property
    def outbox(self) -> Outbox:
        """Events to publish once this unit of work commits."""

    @property
    def processed(self) -> ProcessedEvents:
        """The ids of the events intake has handled."""


class PostgresSubmissions:
    """Submissions in PostgreSQL: accepting on an autocommit connection, the rest in the session."""

    def __init__(
        self,
        session: Callable[[], AsyncSession],
        autocommit: Callable[[], Awaitable[AsyncConnection]],
        outbox: Table,
        committed: Callable[[Sequence[OutboxBatch]], None] | None = None,
    ) -> None:
        self._session = session
        self._autocommit = autocommit
        self._outbox = outbox
        self._committed = committed

    async def add_if_new(
        self, submission: NewSubmission, messages: Sequence[OutboxMessage]
    ) -> bool:
        """Insert the submission and its outbox rows in one statement, committed on its own."""
        # Accepting is the hot path: one statement, one transaction by itself under autocommit,
        # so it costs one round trip with no BEGIN and COMMIT around it.
        connection = await self._autocommit()
        events = OutboxBatch.of(messages)
        added = await store.add_submission(connection, self._outbox, submission, events)
        if added and self._committed is not None:
            self._committed([events])
        return added

    async def find_by_reference(
        self, *, source_agency: str, source_reference: str
    ) -> Submission | None:
        """The committed submission under a reference (perhaps a concurrent post's, just now)."""
        connection = await self._autocommit()
        return await store.find_by_reference(
            connection, source_agency=source_agency, source_reference=source_reference
        )

    async def find(self, concern_id: UUID) -> Submission | None:
        """A submission by concern id, read in the session."""
        return await store.find_concern(self._session(), concern_id)

    async def record_routings(self, routings: Iterable[Routing]) -> None:
        """Record where concerns went, in the session's transaction."""
        await store.record_routings(self._session(), list(routings))

    async def agency_concerns(
        self, *, source_agency: str, limit: int, after: PageCursor | None
    ) -> list[Submission]:
        """A page of an agency's concerns, read in the session."""
        return await store.agency_concerns(
            self._session(), source_agency=source_agency, limit=limit, after=after
        )


class PostgresProgress:
    """Recipients' progress in PostgreSQL, in the session's transaction."""

    def __init__(self, session: Callable[[], AsyncSession]) -> None:
        self._session = session

    async def record(self, progress: Iterable[RecipientProgress]) -> None:
        """Upsert each state, keeping the newer one per notification."""
        await store_progress.record_progress(self._session(), list(progress))

    async def of_concerns(self, concern_ids: Iterable[UUID]) -> list[RecipientProgress]:
        """The progress rows of these concerns."""
        return await store_progress.progress_of_concerns(self._session(), list(concern_ids))


class PostgresUnitOfWork:
    """Intake's unit of work on PostgreSQL: one session's transaction, committed once."""

    def __init__(
        self,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        *,
        outbox: Table,
        processed: Table,
        committed: Callable[[Sequence[OutboxBatch]], None] | None = None,
    ) -> None:
        self._engine = engine
        self._sessions = sessions
        self._outbox_table = outbox
        self._processed_table = processed
        self._entered = False
        self._open_session: AsyncSession | None = None
        self._connection: AsyncConnection | None = None
        self.submissions = PostgresSubmissions(self._session, self._autocommit, outbox, committed)
        self.progress = PostgresProgress(self._session)

    # The session and the autocommit connection are opened only when first used, so that
    # accepting a concern (the benchmarked path) costs its one statement and nothing more.
    def _session(self) -> AsyncSession:
        if not self._entered:
            raise RuntimeError("PostgresUnitOfWork used outside 'async with'")
        if self._open_session is None:
            self._open_session = self._sessions()
        return self._open_session

    async def _autocommit(self) -> AsyncConnection:
        if not self._entered:
            raise RuntimeError("PostgresUnitOfWork used outside 'async with'")
        if self._connection is None:
            connection = await self._engine.connect()
            self._connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
        return self._connection

    @property
    def outbox(self) -> SessionOutbox:
        """Events to publish, written in the session's transaction."""
        return SessionOutbox(self._session(), self._outbox_table)

    @property
    def processed(self) -> SessionProcessedEvents:
        """The ids of handled events, written in the session's transaction."""
        return SessionProcessedEvents(self._session(), self._processed_table)

    async def __aenter__(self) -> Self:
        self._entered = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, self._open_session = self._open_session, None
        connection, self._connection = self._connection, None
        self._entered = False
        try:
            if session is not None:
                try:
                    await session.rollback()
                finally:
                    await session.close()
        finally:
            if connection is not None:
                # As `async with engine.connect()` does: a cancelled request still returns it.
                await asyncio.shield(connection.close())

    async def commit(self) -> None:
        """Commit the session's transaction (an accepted submission is committed already)."""
        if self._open_session is not None:
            await self._open_session.commit()


def intake_unit_of_work(runtime: ServiceRuntime) -> PostgresUnitOfWork:
    """A new unit of work on the running service's database."""
    return PostgresUnitOfWork(
        runtime.engine,
        runtime.sessions,
        outbox=runtime.outbox,
        processed=runtime.processed,
        committed=runtime.relay.hand,
    )
