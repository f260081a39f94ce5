"""The auditor's pages: search the log, a concern's trail, integrity, and exports."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from uuid import UUID

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from schemas.v1 import AuditAction, AuditPage, ConcernTrail, Verification
from services.common.auth import Role
from services.web import views
from services.web.context import WebContext
from services.web.page_kit import SessionDep, WebDep, correlation, need, page
from services.web.session import Session
from services.web.upstream import UpstreamError

router = APIRouter(include_in_schema=False)

# An agency's auditor sees its own agency's entries; a partnership auditor sees them all
# (audit scopes every answer; the pages only decide who may ask).
AUDITORS = (Role.AUDITOR, Role.PARTNERSHIP_AUDITOR)

EXPORT_PAGE = 1000


@router.get("/audit")
async def audit_search(request: Request, context: WebDep, session: SessionDep) -> Response:
    """Search the audit log by concern, person, agency, action and time."""
    need(session, *AUDITORS)
    query = dict(request.query_params)
    filters = views.search_filters(query)
    rows: list[views.AuditRow] = []
    next_cursor: str | None = None
    error: str | None = None
    searched = "search" in query or bool(filters)
    if searched:
        params = {**filters, "limit": "100", "cursor": query.get("cursor", "0") or "0"}
        try:
            found = await context.upstream.call(context.upstream.audit, "GET",
                                                "/v1/audit/events", answer=AuditPage,
                                                token=session.token, params=params,
                                                correlation_id=correlation(request))  # fmt: skip
            rows = [views.audit_row(entry) for entry in found.items]
            next_cursor = found.next_cursor
        except UpstreamError as failure:
            if failure.status != 422:
                raise
            error = f"Check the filters: {failure.detail}"
    return page(request, "audit_search.html", session, query=query, filters=filters, rows=rows,
                next_cursor=next_cursor, searched=searched, error=error,
                actions=list(AuditAction), agencies=context.partnership.agencies)  # fmt: skip


@router.get("/audit/concerns/{concern_id}")
async def audit_trail(
    concern_id: UUID, request: Request, context: WebDep, session: SessionDep
) -> Response:
    """Everything recorded about one concern, as a timeline."""
    need(session, *AUDITORS)
    trail = await context.upstream.call(context.upstream.audit, "GET",
                                        f"/v1/audit/concerns/{concern_id}/trail",
                                        answer=ConcernTrail, token=session.token,
                                        correlation_id=correlation(request))  # fmt: skip
    rows = [views.audit_row(entry) for entry in trail.items]
    return page(request, "audit_trail.html", session, concern_id=concern_id, rows=rows)


@router.get("/audit/integrity")
async def audit_integrity(request: Request, context: WebDep, session: SessionDep) -> Response:
    """Whether the log recomputes, and the latest signed tree head."""
    need(session, *AUDITORS)
    verdict = await context.upstream.call(context.upstream.audit, "GET", "/v1/audit/verify",
                                          answer=Verification, token=session.token,
                                          correlation_id=correlation(request))  # fmt: skip
    return page(request, "audit_integrity.html", session, verdict=verdict,
                head=verdict.latest_tree_head)  # fmt: skip


@router.get("/audit/export")
async def audit_export(request: Request, context: WebDep, session: SessionDep) -> Response:
    """Every entry matching the filters, as CSV or JSON, fetched page by page."""
    need(session, *AUDITORS)
    filters = views.search_filters(dict(request.query_params))
    as_json = request.query_params.get("format") == "json"
    first = await _export_page(context, session, filters, cursor="0")

    async def body() -> AsyncIterator[str]:
        found, header = first, True
        while True:
            if as_json:
                for index, entry in enumerate(found.items):
                    text = json.dumps(entry.model_dump(mode="json"))
                    yield ("[\n" if header and index == 0 else ",\n") + text
                    header = False
            else:
                yield views.csv_lines([views.audit_row(e) for e in found.items], header=header)
                header = False
            if not found.next_cursor:
                break
            found = await _export_page(context, session, filters, cursor=found.next_cursor)
        if as_json:
            yield "[]\n" if header else "\n]\n"

    extension = "json" if as_json else "csv"
    media = "application/json" if as_json else "text/csv; charset=utf-8"
    disposition = f'attachment; filename="audit-export.{extension}"'
    return StreamingResponse(body(), media_type=media,
                             headers={"Content-Disposition": disposition})  # fmt: skip


async def _export_page(
    context: WebContext, session: Session, filters: dict[str, str], *, cursor: str
) -> AuditPage:
    params = {**filters, "limit": str(EXPORT_PAGE), "cursor": cursor}
    return await context.upstream.call(context.upstream.audit, "GET", "/v1/audit/events",
                                       answer=AuditPage, token=session.token,
                                       params=params)  # fmt: skip
