"""A team's casework as use cases on a unit of work: decide on a notification, assign it.

Only the recipient agency's own notifications; another agency's is not found, exactly as a
missing one, and the attempt is audited. The rationale is stored, never logged.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import structlog

from schemas.v1 import AuditAction
from schemas.v1.events import NotificationChange
from services.common.auth import Caller
from services.partnership import Partnership
from services.routing.decision_policy import (
    Decided,
    Unchanged,
    UnknownDecision,
    can_be_decided,
    decide,
)
from services.routing.inbox import OpenedNotification, caller_audit, own_notification
from services.routing.state import change_entry
from services.routing.unit_of_work import RoutingUnitOfWork
from services.routing.views import changed

log = structlog.get_logger()


class DecisionRefused(ValueError):
    """A decision that cannot be recorded: an unknown code, or a notification not decided."""

    def __init__(self, message: str, *, valid_codes: list[str] | None = None) -> None:
        super().__init__(message)
        self.valid_codes = valid_codes


class NotDecidable(DecisionRefused):
    """Feedback reports a decision; it takes none."""


@dataclass(frozen=True)
class DecisionRequested:
    """What the caller decided, and why (personal data)."""

    decision: str
    rationale: str | None = None


async def decide_notification(
    uow: RoutingUnitOfWork,
    caller: Caller,
    notification_id: UUID,
    requested: DecisionRequested,
    *,
    partnership: Partnership,
    now: datetime,
    correlation_id: str,
    path: str,
) -> OpenedNotification:
    """Record a decision or revision; the same again changes nothing. Feedback goes back."""
    async with uow:
        await own_notification(
            uow, caller, notification_id, correlation_id=correlation_id, path=path
        )
        stored = await uow.notifications.lock(notification_id)
        assert stored is not None
        if not can_be_decided(stored.notification):
            raise NotDecidable("A feedback notification reports a decision and takes none.")
        history = await uow.decisions.history(notification_id)
        concerns = await uow.concerns.find([stored.notification.concern_id])
        outcome = decide(
            stored,
            decision=requested.decision,
            rationale=requested.rationale,
            latest=history[-1] if history else None,
            actor=caller.as_actor(),
            concern=concerns.get(stored.notification.concern_id),
            partnership=partnership,
            now=now,
            correlation_id=correlation_id,
        )
        if isinstance(outcome, UnknownDecision):
            raise DecisionRefused("Not a decision of this agency.", valid_codes=outcome.valid_codes)
        if isinstance(outcome, Unchanged):
            return OpenedNotification(stored, history)
        await _record(uow, caller, outcome, now=now)
        await uow.commit()
    log.info(
        "notification.decided",
        notification_id=str(notification_id),
        concern_id=str(stored.notification.concern_id),
        agency=caller.agency,
        decision=outcome.record.decision,
        revision=outcome.record.revision,
        feedback_id=str(outcome.feedback.notification_id) if outcome.feedback else None,
    )
    return OpenedNotification(outcome.after, [*history, outcome.record])


async def _record(
    uow: RoutingUnitOfWork, caller: Caller, outcome: Decided, *, now: datetime
) -> None:
    n = outcome.after.notification
    if outcome.implied_acknowledgement:
        await uow.notifications.acknowledge(
            n.notification_id, by=caller.subject, at=now, role=caller.role.value
        )
    await uow.decisions.record(outcome.record)
    if outcome.feedback is not None:
        await uow.notifications.add([outcome.feedback])
    await uow.outbox.add(outcome.messages)
    await uow.changes.append(outcome.changes)


async def assign_notification(
    uow: RoutingUnitOfWork,
    caller: Caller,
    notification_id: UUID,
    *,
    assignee: str,
    now: datetime,
    correlation_id: str,
    path: str,
) -> OpenedNotification:
    """Give a notification to someone in the agency; the same assignee again changes nothing."""
    async with uow:
        own = await own_notification(
            uow, caller, notification_id, correlation_id=correlation_id, path=path
        )
        if await uow.notifications.assign(notification_id, assignee=assignee):
            after = dataclasses.replace(own, assignee=assignee)
            change = NotificationChange.ASSIGNED
            assigned = caller_audit(
                caller, AuditAction.NOTIFICATION_ASSIGNED, correlation_id=correlation_id,
                notification=own, details={"assignee": assignee},
            )  # fmt: skip
            await uow.outbox.add(
                [assigned, changed(after, change, at=now, correlation_id=correlation_id)]
            )
            await uow.changes.append([change_entry(after, change)])
            await uow.commit()
            own = after
        decisions = await uow.decisions.history(notification_id)
    return OpenedNotification(own, decisions)
