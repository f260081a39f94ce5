"""Audit's person route: what one person has listed, opened, acknowledged, been refused or sent."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from services.audit import store
from services.audit.deps import COMMON, record_query
from services.audit.views import PERSON_ACTIONS, PersonAccessPage, person_access
from services.common.auth import CallerDep, Role, require_role
from services.common.runtime import RuntimeDep

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("/people/{subject}/accesses", response_model=PersonAccessPage, responses=COMMON)
async def person_accesses(
    subject: Annotated[str, Path(min_length=1, max_length=200)],
    caller: CallerDep,
    service: RuntimeDep,
    request: Request,
    agency: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[int, Query(ge=0)] = 0,
) -> PersonAccessPage:
    """Everything one person saw, acknowledged, was refused or submitted, oldest first.

    For a subject access request or an inquiry: each entry names the concern, the notification,
    the fields disclosed (names only) and when. The query itself is audited.
    """
    require_role(caller, Role.AUDITOR)
    filters = {"agency": agency, "since": since, "until": until}
    details = {"query": "person-accesses", "subject": subject, "cursor": cursor, **filters}
    await record_query(service, request, caller, details)
    async with service.unit_of_work() as uow:
        found = await store.find_entries(
            uow.session,
            limit=limit + 1,
            after_seq=cursor,
            actor=subject,
            actions=PERSON_ACTIONS,
            agency=agency,
            since=since,
            until=until,
        )
    items = [person_access(e) for e in found[:limit]]
    next_cursor = str(items[-1].seq) if len(found) > limit else None
    return PersonAccessPage(subject=subject, items=items, next_cursor=next_cursor)
