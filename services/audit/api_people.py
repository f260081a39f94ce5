"""Audit's person route: what one person has listed, opened, acknowledged, been refused or sent."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path

from schemas.v1 import PersonAccessPage
from services.audit import service
from services.audit.deps import AGENCY, COMMON, CorrelationDep, Cursor, Limit, UowDep
from services.common.auth import CallerDep

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("/people/{subject}/accesses", response_model=PersonAccessPage, responses=COMMON)
async def person_accesses(
    subject: Annotated[str, Path(min_length=1, max_length=200)],
    caller: CallerDep,
    uow: UowDep,
    correlation_id: CorrelationDep,
    agency: Annotated[str | None, AGENCY] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Limit = 100,
    cursor: Cursor = 0,
) -> PersonAccessPage:
    """Everything one person saw, acknowledged, was refused or submitted, oldest first.

    For a subject access request or an inquiry: each entry names the concern, the notification,
    the fields disclosed (names only) and when. The query itself is audited.
    """
    return await service.person_accesses(
        uow,
        caller,
        subject,
        agency=agency,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
        correlation_id=correlation_id,
    )
