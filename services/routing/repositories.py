"""Routing's casework repositories: decision histories and each agency's change log.

Protocols the use cases see, and their SQL implementations over store_casework.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from services.routing import store_casework
from services.routing.state import ChangeEntry, DecisionRecord, StoredNotification


class Decisions(Protocol):
    """Every decision and revision on routing's notifications."""

    async def record(self, record: DecisionRecord) -> None:
        """Add a decision or revision and make it the notification's latest."""

    async def history(self, notification_id: UUID) -> list[DecisionRecord]:
        """A notification's decisions, oldest first."""


class ChangeLog(Protocol):
    """Per agency, each notification stored and each change of state, in one order."""

    async def append(self, entries: Sequence[ChangeEntry]) -> None:
        """Add these lines (call last before the commit: it orders commits of the log)."""

    async def newest(self) -> int:
        """The newest position, 0 when there is none."""

    async def after(
        self, *, agency: str, after_seq: int, limit: int, concern_id: UUID | None = None
    ) -> list[tuple[ChangeEntry, StoredNotification]]:
        """An agency's lines after a position, oldest first, each with its notification now."""


class SqlDecisions:
    """Decisions in routing's tables, in one session's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(self, record: DecisionRecord) -> None:
        """Insert the decision and update the notification's latest."""
        await store_casework.record_decision(self._session, record)

    async def history(self, notification_id: UUID) -> list[DecisionRecord]:
        """A notification's decisions, oldest first."""
        return await store_casework.decision_history(self._session, notification_id)


class SqlChangeLog:
    """The change log in routing's tables, in one session's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def append(self, entries: Sequence[ChangeEntry]) -> None:
        """Insert these lines in one statement."""
        await store_casework.append_changes(self._session, entries)

    async def newest(self) -> int:
        """The newest position."""
        return await store_casework.newest_change(self._session)

    async def after(
        self, *, agency: str, after_seq: int, limit: int, concern_id: UUID | None = None
    ) -> list[tuple[ChangeEntry, StoredNotification]]:
        """An agency's lines after a position, with their notifications."""
        return await store_casework.changes_after(
            self._session, agency=agency, after_seq=after_seq, limit=limit, concern_id=concern_id
        )
