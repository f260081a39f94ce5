"""Audit's HTTP routes: auditors query the log and check that it has not been altered."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from schemas.v1 import AuditAction, AuditEvent, AuditEventPayload, Topic
from services.audit import store
from services.audit.chain import verify_chain
from services.common.auth import Caller, CallerDep, Role, require_role
from services.common.outbox import enqueue
from services.common.problems import PROBLEM, Problem
from services.common.runtime import ServiceRuntime

router = APIRouter(prefix="/v1/audit", tags=["audit"])


def runtime(request: Request) -> ServiceRuntime:
    """The running service."""
    value: ServiceRuntime = request.app.state.runtime
    return value


RuntimeDep = Annotated[ServiceRuntime, Depends(runtime)]


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "model": Problem, "content": {PROBLEM: {}}}


COMMON: dict[int | str, dict[str, Any]] = {
    401: _problem("Missing, expired or forged bearer token."),
    403: _problem("Only auditors may read the audit log."),
}


class AuditEntryView(BaseModel):
    """One audit entry."""

    seq: int
    recorded_at: datetime
    entry_hash: str
    entry: dict[str, Any]


class AuditPage(BaseModel):
    """A page of audit entries, oldest first."""

    items: list[AuditEntryView]
    next_cursor: str | None = None


class Verification(BaseModel):
    """Whether the chain recomputes; if not, where it first differs."""

    ok: bool
    entries: int
    head_hash: str
    first_bad_seq: int | None = None
    fault: str | None = None
    detail: str | None = None


async def _record_query(
    service: ServiceRuntime, request: Request, caller: Caller, details: dict[str, Any]
) -> None:
    async with service.unit_of_work() as uow:
        event = AuditEvent(
            producer="audit",
            correlation_id=request.state.correlation_id,
            payload=AuditEventPayload(
                action=AuditAction.AUDIT_QUERIED,
                actor=caller.as_actor(),
                concern_id=details.get("concern_id"),
                details={k: str(v) for k, v in details.items() if v is not None},
            ),
        )
        await enqueue(uow.session, service.outbox, event, topic=Topic.AUDIT_EVENTS, key=None)
        await uow.commit()
    service.relay.wake()


def _page(found: list[store.Entry], limit: int) -> AuditPage:
    items = [
        AuditEntryView(
            seq=e.seq, recorded_at=e.recorded_at, entry_hash=e.entry_hash, entry=e.content
        )
        for e in found[:limit]
    ]
    return AuditPage(items=items, next_cursor=str(items[-1].seq) if len(found) > limit else None)


@router.get("/events", response_model=AuditPage, responses=COMMON)
async def audit_events(
    caller: CallerDep,
    service: RuntimeDep,
    request: Request,
    concern_id: UUID | None = None,
    actor: str | None = None,
    agency: str | None = None,
    action: AuditAction | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[int, Query(ge=0)] = 0,
) -> AuditPage:
    """Audit entries matching every filter, oldest first; the query itself is audited."""
    require_role(caller, Role.AUDITOR)
    filters: dict[str, Any] = {
        "concern_id": concern_id,
        "actor": actor,
        "agency": agency,
        "action": action.value if action else None,
        "since": since,
        "until": until,
    }
    await _record_query(service, request, caller, {"query": "events", **filters})
    async with service.unit_of_work() as uow:
        found = await store.find_entries(uow.session, limit=limit + 1, after_seq=cursor, **filters)
    return _page(found, limit)


@router.get("/concerns/{concern_id}/trail", response_model=AuditPage, responses=COMMON)
async def concern_trail(
    concern_id: UUID, caller: CallerDep, service: RuntimeDep, request: Request
) -> AuditPage:
    """Everything recorded about one concern, in order."""
    require_role(caller, Role.AUDITOR)
    await _record_query(service, request, caller, {"query": "trail", "concern_id": concern_id})
    async with service.unit_of_work() as uow:
        found = await store.find_entries(uow.session, limit=100_000, concern_id=concern_id)
    return _page(found, len(found))


@router.get("/verify", response_model=Verification, responses=COMMON)
async def verify(caller: CallerDep, service: RuntimeDep, request: Request) -> Verification:
    """Recompute the hash chain over every entry."""
    require_role(caller, Role.AUDITOR)
    await _record_query(service, request, caller, {"query": "verify"})
    async with service.unit_of_work() as uow:
        verdict = verify_chain([row async for row in store.stream_chain(uow.session)])
    return Verification(
        ok=verdict.ok,
        entries=verdict.rows_checked,
        head_hash=verdict.head_hash.hex(),
        first_bad_seq=verdict.seq,
        fault=verdict.fault.value if verdict.fault else None,
        detail=verdict.detail or None,
    )
