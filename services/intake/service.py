"""Intake's use cases, whichever entry point calls them: submit, record routings, report status."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from pydantic import ValidationError

from schemas.v1 import (
    ConcernRouted,
    ConcernStatusView,
    ConcernSubmission,
    ConcernSubmitted,
    RecipientView,
)
from services.common.auth import Caller, Role
from services.common.logging import bind_correlation_id
from services.intake.accept import Accepted, accept_concern
from services.intake.model import Routing
from services.intake.policy import Resubmission, timeliness_errors
from services.intake.unit_of_work import IntakeUnitOfWork
from services.partnership import Partnership

SUBMITTING_ROLES = (Role.AGENCY_SYSTEM, Role.CASEWORKER)


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
                recipients=[
                    {"agency": r.agency, "reasons": r.reasons} for r in event.payload.recipients
                ],
            )
            for event in firsts.values()
        )
        await uow.commit()


async def concern_status(
    uow: IntakeUnitOfWork, *, caller: Caller, concern_id: UUID
) -> ConcernStatusView | None:
    """A concern's status and where it went, for the agency that raised it; None for any other."""
    async with uow:
        found = await uow.submissions.find(concern_id)
    if found is None or found.source_agency != caller.agency:
        return None
    return ConcernStatusView(
        concern_id=found.concern_id,
        source_reference=found.source_reference,
        status="routed" if found.routed_at else "accepted",
        received_at=found.received_at,
        routed_at=found.routed_at,
        recipients=[RecipientView(**recipient) for recipient in found.recipients or []],
    )
