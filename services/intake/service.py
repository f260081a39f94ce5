"""Intake's use cases, whichever entry point calls them: submit, record routings and progress,
report a concern's status or a page of them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from pydantic import ValidationError

from schemas.v1 import (
    ConcernRouted,
    ConcernStatusPage,
    ConcernStatusView,
    ConcernSubmission,
    ConcernSubmitted,
)
from schemas.v1.events import NotificationChanged
from services.common.auth import Caller, Role
from services.common.logging import bind_correlation_id
from services.intake.accept import Accepted, accept_concern
from services.intake.model import Routing
from services.intake.policy import Resubmission, timeliness_errors
from services.intake.progress import (
    concern_page,
    concern_status_view,
    latest_progress,
    read_cursor,
)
from services.intake.unit_of_work import IntakeUnitOfWork
from services.partnership import Partnership

SUBMITTING_ROLES = (Role.AGENCY_SYSTEM, Role.CASEWORKER)
LISTING_ROLES = (Role.AGENCY_SYSTEM, Role.CASEWORKER)
MAX_PAGE = 100


@dataclass(frozen=True)
class RoleRefused:
    """The caller's role may not submit concerns."""

    role: Role


@dataclass(frozen=True)
class AgencyRefused:
    """The caller's agency is not in the partnership."""

    agency: str


@dataclass(frozen=True)
class DatesRefused:
    """Dates in the future or too far back: (field, message) for each."""

    errors: list[tuple[str, str]]


@dataclass(frozen=True)
class DeadLetter:
    """A submission over Kafka refused, with the reason its dead letter carries."""

    reason: str


@dataclass(frozen=True)
class BadCursor:
    """A listing's cursor that is not one intake gave."""


Submitted = Accepted | RoleRefused | AgencyRefused | DatesRefused


def submitter_refusal(
    caller: Caller, partnership: Partnership
) -> RoleRefused | AgencyRefused | None:
    """Why this caller may not submit a concern, if it may not."""
    if caller.role not in SUBMITTING_ROLES:
        return RoleRefused(caller.role)
    if not partnership.has_agency(caller.agency):
        return AgencyRefused(caller.agency)
    return None


async def submit_concern(
    uow: IntakeUnitOfWork,
    partnership: Partnership,
    *,
    caller: Caller,
    concern: ConcernSubmission,
    channel: str,
    correlation_id: str,
    now: datetime,
) -> Submitted:
    """Accept a concern (new, a replay or a conflict), or refuse its submitter or its dates."""
    refused = submitter_refusal(caller, partnership)
    if refused is not None:
        return refused
    late = timeliness_errors(concern, now)
    if late:
        return DatesRefused(late)
    async with uow:
        return await accept_concern(
            uow,
            concern=concern,
            caller=caller,
            channel=channel,
            correlation_id=correlation_id,
            now=now,
        )


def _validation_reason(error: ValidationError) -> str:
    fields = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
    return f"invalid: {fields}"


async def submit_from_kafka(
    uow: IntakeUnitOfWork,
    partnership: Partnership,
    *,
    caller: Caller | None,
    body: bytes,
    now: datetime,
) -> Accepted | DeadLetter:
    """Accept a ConcernSubmitted record from its token's caller (None: no valid token), or not."""
    if caller is None:
        return DeadLetter("authorization: missing, expired or forged token")
    match submitter_refusal(caller, partnership):
        case RoleRefused(role=role):
            return DeadLetter(f"authorization: role {role} may not submit")
        case AgencyRefused(agency=agency):
            return DeadLetter(f"authorization: unknown agency {agency}")
    try:
        event = ConcernSubmitted.model_validate_json(body)
    except ValidationError as error:
        return DeadLetter(_validation_reason(error))
    late = timeliness_errors(event.payload, now)
    if late:
        return DeadLetter("invalid: " + "; ".join(f"{f}: {m}" for f, m in late))
    bind_correlation_id(event.correlation_id)
    async with uow:
        accepted = await accept_concern(
            uow,
            concern=event.payload,
            caller=caller,
            channel="kafka",
            correlation_id=event.correlation_id,
            now=now,
        )
    if accepted.outcome is Resubmission.CONFLICT:
        return DeadLetter(f"conflict: reference used for concern {accepted.concern_id}")
    return accepted


async def record_routings(uow: IntakeUnitOfWork, events: Sequence[ConcernRouted]) -> None:
    """Remember where concerns went, each routing once however often it is delivered."""
    async with uow:
        fresh = await uow.processed.first_deliveries(event.event_id for event in events)
        firsts = {event.event_id: event for event in events if event.event_id in fresh}
        await uow.submissions.record_routings(
            Routing(
                concern_id=event.payload.concern_id,
                routed_at=event.payload.routed_at,
                recipients=[r.model_dump(mode="json") for r in event.payload.recipients],
            )
            for event in firsts.values()
        )
        await uow.commit()


async def record_progress(uow: IntakeUnitOfWork, events: Sequence[NotificationChanged]) -> None:
    """Keep each recipient notification's newest state, each change once however delivered."""
    async with uow:
        fresh = await uow.processed.first_deliveries(event.event_id for event in events)
        firsts = {event.event_id: event.payload for event in events if event.event_id in fresh}
        await uow.progress.record(latest_progress(firsts.values()))
        await uow.commit()


async def concern_status(
    uow: IntakeUnitOfWork, *, caller: Caller, concern_id: UUID, now: datetime
) -> ConcernStatusView | None:
    """A concern's status and each recipient's progress, for the agency that raised it only."""
    async with uow:
        found = await uow.submissions.find(concern_id)
        if found is None or found.source_agency != caller.agency:
            return None
        progress = await uow.progress.of_concerns([concern_id])
    return concern_status_view(found, progress, now=now)


async def list_concerns(
    uow: IntakeUnitOfWork, *, caller: Caller, limit: int, cursor: str | None, now: datetime
) -> ConcernStatusPage | RoleRefused | BadCursor:
    """A page of the caller's agency's concerns, newest first, each with recipients' progress."""
    if caller.role not in LISTING_ROLES:
        return RoleRefused(caller.role)
    after = None if cursor is None else read_cursor(cursor)
    if cursor is not None and after is None:
        return BadCursor()
    limit = min(max(limit, 1), MAX_PAGE)
    async with uow:
        # One more than asked: whether another page follows.
        found = await uow.submissions.agency_concerns(
            source_agency=caller.agency, limit=limit + 1, after=after
        )
        progress = await uow.progress.of_concerns(s.concern_id for s in found[:limit])
    return concern_page(found, progress, limit=limit, now=now)
