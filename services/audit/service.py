"""Audit's use cases: append a batch of events, and answer auditors (each query itself audited).

Callable with any AuditUnitOfWork: the SQL one in the service, an in-memory one in unit tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas.v1 import (
    AuditAction,
    AuditEvent,
    AuditEventPayload,
    AuditPage,
    ConcernTrail,
    ExportFormat,
    PersonAccessPage,
    Topic,
)
from services.audit import views
from services.audit.service_scope import (
    NotAnAuditor as NotAnAuditor,  # re-exported: the app maps it to 403
)
from services.audit.service_scope import (
    asks_outside,
    empty_export,
    record_denial,
    require_auditor,
    scoped,
)
from services.audit.unit_of_work import AuditUnitOfWork, EntryFilters
from services.common.auth import Caller
from services.common.outbox import OutboxMessage

EXPORT_BATCH = 1000
TRAIL_LIMIT = 100_000


class NotRecorded(LookupError):
    """No such entry or tree head (yet)."""


@dataclass(frozen=True)
class AppendedBatch:
    """What appending one batch did."""

    received: int
    appended: int
    tree_size: int | None


async def append_audit_events(
    uow: AuditUnitOfWork,
    events: Sequence[AuditEvent],
    *,
    signing_key: Ed25519PrivateKey | None,
    now: datetime,
) -> AppendedBatch:
    """Chain the events not yet in the log, then record (and sign) the tree head over them."""
    async with uow:
        appended = await uow.entries.append(events)
        head = await uow.tree.add_head(signing_key=signing_key, now=now)
        await uow.commit()
    return AppendedBatch(len(events), appended, head.tree_size if head else None)


async def record_query(
    uow: AuditUnitOfWork, caller: Caller, details: Mapping[str, object], *, correlation_id: str
) -> None:
    """Audit an auditor's query as ``audit.queried``: its filters only, no personal data."""
    concern_id = details.get("concern_id")
    event = AuditEvent(
        producer="audit",
        correlation_id=correlation_id,
        payload=AuditEventPayload(
            action=AuditAction.AUDIT_QUERIED,
            actor=caller.as_actor(),
            concern_id=concern_id if isinstance(concern_id, UUID) else None,
            details={k: str(v) for k, v in details.items() if v is not None},
        ),
    )
    # Its own transaction, committed before the query runs: a query that then fails is on record.
    async with uow:
        await uow.outbox.add([OutboxMessage(event, Topic.AUDIT_EVENTS, None)])
        await uow.commit()


def filter_details(filters: EntryFilters) -> dict[str, object]:
    """The filters of /events and /export as a query's details, in the order they are asked."""
    return {
        "concern_id": filters.concern_id,
        "actor": filters.actor,
        "agency": filters.agency,
        "action": filters.action,
        "since": filters.since,
        "until": filters.until,
    }


async def find_audit_events(
    uow: AuditUnitOfWork,
    caller: Caller,
    filters: EntryFilters,
    *,
    limit: int,
    cursor: int,
    correlation_id: str,
) -> AuditPage:
    """Audit entries matching every filter, oldest first, one page after the cursor."""
    require_auditor(caller)
    details = {"query": "events", **filter_details(filters)}
    await record_query(uow, caller, details, correlation_id=correlation_id)
    if await asks_outside(uow, caller, filters):
        await record_denial(uow, caller, details, correlation_id=correlation_id)
        return views.page([], limit)
    async with uow:
        found = await uow.entries.find(scoped(filters, caller), limit=limit + 1, after_seq=cursor)
    return views.page(found, limit)


async def concern_trail(
    uow: AuditUnitOfWork, caller: Caller, concern_id: UUID, *, correlation_id: str
) -> ConcernTrail:
    """Everything recorded about one concern, in order, with a readable summary of each step."""
    require_auditor(caller)
    details = {"query": "trail", "concern_id": concern_id}
    await record_query(uow, caller, details, correlation_id=correlation_id)
    filters = EntryFilters(concern_id=concern_id)
    if await asks_outside(uow, caller, filters):
        await record_denial(uow, caller, details, correlation_id=correlation_id)
        return views.concern_trail([])
    async with uow:
        found = await uow.entries.find(scoped(filters, caller), limit=TRAIL_LIMIT)
    return views.concern_trail(found)


async def export_trail(
    uow: AuditUnitOfWork,
    caller: Caller,
    concern_id: UUID,
    fmt: ExportFormat,
    *,
    correlation_id: str,
) -> AsyncIterator[str]:
    """A concern's raw entries as an export, read as it is sent."""
    require_auditor(caller)
    details = {"query": "trail", "concern_id": concern_id, "format": fmt}
    await record_query(uow, caller, details, correlation_id=correlation_id)
    filters = EntryFilters(concern_id=concern_id)
    if await asks_outside(uow, caller, filters):
        await record_denial(uow, caller, details, correlation_id=correlation_id)
        return empty_export(fmt)
    return export_chunks(uow, fmt, scoped(filters, caller))


async def export_entries(
    uow: AuditUnitOfWork,
    caller: Caller,
    filters: EntryFilters,
    fmt: ExportFormat,
    *,
    correlation_id: str,
) -> AsyncIterator[str]:
    """Every entry matching the filters, with no page limit, read as it is sent."""
    require_auditor(caller)
    details = {"query": "export", "format": fmt, **filter_details(filters)}
    await record_query(uow, caller, details, correlation_id=correlation_id)
    if await asks_outside(uow, caller, filters):
        await record_denial(uow, caller, details, correlation_id=correlation_id)
        return empty_export(fmt)
    return export_chunks(uow, fmt, scoped(filters, caller))


async def export_chunks(
    uow: AuditUnitOfWork, fmt: ExportFormat, filters: EntryFilters
) -> AsyncIterator[str]:
    """The export, one batch of entries at a time, up to the newest entry when it began."""
    async with uow:
        through = await uow.entries.last_seq()
        after, first = 0, True
        yield views.csv_text([], header=True) if fmt is ExportFormat.CSV else "["
        while True:
            found = await uow.entries.find(
                filters, limit=EXPORT_BATCH, after_seq=after, through_seq=through
            )
            if found:
                if fmt is ExportFormat.CSV:
                    yield views.csv_text(found)
                else:
                    yield views.json_items(found, first=first)
                first, after = False, found[-1].seq
            if len(found) < EXPORT_BATCH:
                break
        if fmt is ExportFormat.JSON:
            yield "]\n"


async def person_accesses(
    uow: AuditUnitOfWork,
    caller: Caller,
    subject: str,
    *,
    agency: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    cursor: int,
    correlation_id: str,
) -> PersonAccessPage:
    """Everything one person saw, acknowledged, was refused or submitted, oldest first."""
    require_auditor(caller)
    asked = {"agency": agency, "since": since, "until": until}
    details = {"query": "person-accesses", "subject": subject, "cursor": cursor, **asked}
    await record_query(uow, caller, details, correlation_id=correlation_id)
    filters = EntryFilters(
        actor=subject, actions=views.PERSON_ACTIONS, agency=agency, since=since, until=until
    )
    if await asks_outside(uow, caller, filters):
        await record_denial(uow, caller, details, correlation_id=correlation_id)
        return PersonAccessPage(subject=subject, items=[], next_cursor=None)
    async with uow:
        found = await uow.entries.find(scoped(filters, caller), limit=limit + 1, after_seq=cursor)
    items = [views.person_access(e) for e in found[:limit]]
    next_cursor = str(items[-1].seq) if len(found) > limit else None
    return PersonAccessPage(subject=subject, items=items, next_cursor=next_cursor)
