"""Audit's export route: every matching entry as CSV or JSON, streamed from the log in batches."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from services.audit import store
from services.audit.deps import COMMON, FiltersDep, record_query
from services.audit.views import ExportFormat, csv_text, json_items
from services.common.auth import CallerDep, Role, require_role
from services.common.runtime import RuntimeDep, ServiceRuntime

router = APIRouter(prefix="/v1/audit", tags=["audit"])
BATCH = 1000
MEDIA_TYPES = {ExportFormat.CSV: "text/csv; charset=utf-8", ExportFormat.JSON: "application/json"}
EXPORTED: dict[int | str, dict[str, Any]] = {
    **COMMON,
    200: {
        "description": "Every matching entry, oldest first, as an attachment.",
        "content": {"text/csv": {}, "application/json": {}},
    },
}


async def _chunks(
    service: ServiceRuntime, fmt: ExportFormat, filters: dict[str, Any]
) -> AsyncIterator[str]:
    """The export, one batch of entries at a time, up to the newest entry when it began."""
    async with service.unit_of_work() as uow:
        through = await store.last_seq(uow.session)
        after, first = 0, True
        yield csv_text([], header=True) if fmt is ExportFormat.CSV else "["
        while True:
            found = await store.find_entries(
                uow.session, limit=BATCH, after_seq=after, through_seq=through, **filters
            )
            if found:
                if fmt is ExportFormat.CSV:
                    yield csv_text(found)
                else:
                    yield json_items(found, first=first)
                first, after = False, found[-1].seq
            if len(found) < BATCH:
                break
        if fmt is ExportFormat.JSON:
            yield "]\n"


def export_response(
    service: ServiceRuntime, fmt: ExportFormat, filters: dict[str, Any], name: str
) -> StreamingResponse:
    """A streamed attachment of every entry matching the filters."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        _chunks(service, fmt, filters),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}-{stamp}.{fmt.value}"'},
    )


@router.get("/export", response_class=StreamingResponse, responses=EXPORTED)
async def export_entries(
    caller: CallerDep,
    service: RuntimeDep,
    request: Request,
    filters: FiltersDep,
    format_: Annotated[ExportFormat, Query(alias="format")] = ExportFormat.JSON,
) -> StreamingResponse:
    """Every entry matching the filters of /events, with no page limit; the export is audited."""
    require_role(caller, Role.AUDITOR)
    await record_query(service, request, caller, {"query": "export", "format": format_, **filters})
    return export_response(service, format_, filters, "audit-export")
