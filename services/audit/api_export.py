"""Audit's export route: every matching entry as CSV or JSON, streamed from the log in batches."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from schemas.v1 import ExportFormat
from services.audit import service
from services.audit.deps import COMMON, CorrelationDep, FiltersDep, UowDep
from services.common.auth import CallerDep

router = APIRouter(prefix="/v1/audit", tags=["audit"])
MEDIA_TYPES = {ExportFormat.CSV: "text/csv; charset=utf-8", ExportFormat.JSON: "application/json"}
EXPORTED: dict[int | str, dict[str, Any]] = {
    **COMMON,
    200: {
        "description": "Every matching entry, oldest first, as an attachment.",
        "content": {"text/csv": {}, "application/json": {}},
    },
}


def export_response(chunks: AsyncIterator[str], fmt: ExportFormat, name: str) -> StreamingResponse:
    """A streamed attachment of an export's chunks."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        chunks,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}-{stamp}.{fmt.value}"'},
    )


@router.get("/export", response_class=StreamingResponse, responses=EXPORTED)
async def export_entries(
    caller: CallerDep,
    uow: UowDep,
    correlation_id: CorrelationDep,
    filters: FiltersDep,
    format_: Annotated[ExportFormat, Query(alias="format")] = ExportFormat.JSON,
) -> StreamingResponse:
    """Every entry matching the filters of /events, with no page limit; the export is audited."""
    chunks = await service.export_entries(
        uow, caller, filters, format_, correlation_id=correlation_id
    )
    return export_response(chunks, format_, "audit-export")
