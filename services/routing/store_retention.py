"""Routing's retention queries: claim concerns past retention, remove their personal content.

Never waits on a lock: a concern or notification another transaction holds (being escalated,
decided, routed) is left for the next pass, so the job can neither block casework nor deadlock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.routing.retention import (
    concern_without_content,
    notification_without_content,
)
from services.routing.store import concerns, notifications


@dataclass(frozen=True)
class HeldConcern:
    """A concern past retention, locked for this transaction, with its notifications' JSON."""

    concern_id: UUID
    received_at: datetime
    payload: dict[str, Any]
    notifications: dict[UUID, dict[str, Any]]


async def claim_concerns_past_retention(
    session: AsyncSession, *, received_before: datetime, limit: int
) -> list[HeldConcern]:
    """Up to `limit` concerns received before then whose content is kept, oldest first, locked.

    A concern is returned only when it and every one of its notifications could be locked now.
    """
    c = concerns.c
    rows = (
        await session.execute(
            select(c.concern_id, c.received_at, c.payload)
            .where(c.content_removed_at.is_(None), c.received_at < received_before)
            .order_by(c.received_at, c.concern_id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not rows:
        return []
    ids = [row.concern_id for row in rows]
    n = notifications.c
    every = (await session.execute(select(n.notification_id, n.concern_id).where(
        n.concern_id.in_(ids)))).all()  # fmt: skip
    locked = {
        row.notification_id: row.payload
        for row in await session.execute(
            select(n.notification_id, n.payload)
            .where(n.concern_id.in_(ids))
            .with_for_update(skip_locked=True)
        )
    }
    busy = {row.concern_id for row in every if row.notification_id not in locked}
    by_concern: dict[UUID, dict[UUID, dict[str, Any]]] = {concern_id: {} for concern_id in ids}
    for row in every:
        if row.notification_id in locked:
            by_concern[row.concern_id][row.notification_id] = locked[row.notification_id]
    return [
        HeldConcern(row.concern_id, row.received_at, row.payload, by_concern[row.concern_id])
        for row in rows
        if row.concern_id not in busy
    ]


async def remove_personal_content(
    session: AsyncSession, held: Sequence[HeldConcern], *, at: datetime
) -> None:
    """Remove the personal content from these concerns and their notifications; mark them."""
    if not held:
        return
    await session.execute(
        update(concerns)
        .where(concerns.c.concern_id == bindparam("held_id"))
        .values(payload=bindparam("kept"), content_removed_at=at),
        [{"held_id": h.concern_id, "kept": concern_without_content(h.payload)} for h in held],
    )
    rows = [
        {"held_id": notification_id, "kept": notification_without_content(payload)}
        for h in held
        for notification_id, payload in h.notifications.items()
    ]
    if rows:
        await session.execute(
            update(notifications)
            .where(notifications.c.notification_id == bindparam("held_id"))
            .values(payload=bindparam("kept"), content_removed_at=at),
            rows,
        )
