"""Who may read the audit log, and how much of it: an agency's auditor, or the partnership's."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from uuid import UUID

from schemas.v1 import AuditAction, AuditEvent, AuditEventPayload, ExportFormat, Topic
from services.audit import views
from services.audit.unit_of_work import AuditUnitOfWork, EntryFilters
from services.common.auth import Caller, Role
from services.common.outbox import OutboxMessage

AUDITORS = (Role.AUDITOR, Role.PARTNERSHIP_AUDITOR)
OUTSIDE = "outside the auditor's agency"


class NotAnAuditor(Exception):
    """Only auditors may read the audit log."""


def require_auditor(caller: Caller) -> None:
    """Refuse anyone but an agency's or the partnership's auditor."""
    if caller.role not in AUDITORS:
        raise NotAnAuditor(f"This needs the role {' or '.join(r.value for r in AUDITORS)}.")


def agency_scope(caller: Caller) -> str | None:
    """The agency whose entries the caller may see; None for the partnership's auditor."""
    return None if caller.role is Role.PARTNERSHIP_AUDITOR else caller.agency


def scoped(filters: EntryFilters, caller: Caller) -> EntryFilters:
    """The filters, narrowed to the entries the caller may see."""
    return replace(filters, visible_to=agency_scope(caller))


async def concern_is_agencys(uow: AuditUnitOfWork, concern_id: UUID, agency: str) -> bool:
    """Whether anything recorded about the concern is the agency's to see.

    It raised or received the concern, or its staff acted on it; otherwise (another agency's
    concern, or none at all: the answers are the same) a query naming it is refused.
    """
    async with uow:
        found = await uow.entries.find(
            EntryFilters(concern_id=concern_id, visible_to=agency), limit=1
        )
    return bool(found)


async def asks_outside(uow: AuditUnitOfWork, caller: Caller, filters: EntryFilters) -> bool:
    """Whether a query names another agency, or a concern that is not the caller's agency's."""
    agency = agency_scope(caller)
    if agency is None:
        return False
    if filters.agency is not None and filters.agency != agency:
        return True
    return filters.concern_id is not None and not await concern_is_agencys(
        uow, filters.concern_id, agency
    )


async def record_denial(
    uow: AuditUnitOfWork,
    caller: Caller,
    details: Mapping[str, object],
    *,
    correlation_id: str,
) -> None:
    """Audit a query refused for reaching outside the auditor's agency, as ``access.denied``."""
    concern_id = details.get("concern_id")
    event = AuditEvent(
        producer="audit",
        correlation_id=correlation_id,
        payload=AuditEventPayload(
            action=AuditAction.ACCESS_DENIED,
            actor=caller.as_actor(),
            concern_id=concern_id if isinstance(concern_id, UUID) else None,
            details={
                **{k: str(v) for k, v in details.items() if v is not None},
                "reason": OUTSIDE,
            },
        ),
    )
    async with uow:
        await uow.outbox.add([OutboxMessage(event, Topic.AUDIT_EVENTS, None)])
        await uow.commit()


async def empty_export(fmt: ExportFormat) -> AsyncIterator[str]:
    """An export with no entries: what a refused export answers."""
    yield views.csv_text([], header=True) if fmt is ExportFormat.CSV else "["
    if fmt is ExportFormat.JSON:
        yield "]\n"
