"""The pages: sign-in, a caseworker's live inbox, and the auditor's search, trail and integrity."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse
from sse_starlette import EventSourceResponse, ServerSentEvent

from schemas.v1 import (
    AuditAction,
    AuditPage,
    ConcernTrail,
    NotificationPage,
    NotificationView,
    Verification,
)
from services.common.auth import Role, mint_token
from services.web import views
from services.web.context import WebContext, render_row, web
from services.web.session import (
    COOKIE,
    Session,
    SignInRequired,
    check_form,
    check_origin,
    current_session,
    form_fields,
)
from services.web.upstream import UpstreamError, server_sent_events

router = APIRouter(include_in_schema=False)
WebDep = Annotated[WebContext, Depends(web)]
SessionDep = Annotated[Session, Depends(current_session)]
READERS = (Role.CASEWORKER, Role.AGENCY_SYSTEM)
LIFETIME = timedelta(hours=8)
EXPORT_PAGE = 1000


def page(
    request: Request, name: str, session: Session | None, status_code: int = 200, **values: Any
) -> Response:
    """A rendered page with the signed-in session in its context."""
    context = web(request)
    return context.templates.TemplateResponse(
        request,
        name,
        {"session": session, "agency_name": context.agency_name, **values},
        status_code=status_code,
    )


def _need(session: Session, *roles: Role) -> None:
    if session.caller.role not in roles:
        raise UpstreamError(403, "role")


def _correlation(request: Request) -> str | None:
    value: str | None = getattr(request.state, "correlation_id", None)
    return value


@router.get("/")
async def home(request: Request) -> Response:
    """Inbox for caseworkers, audit search for auditors, sign-in for anyone else."""
    try:
        session = current_session(request)
    except SignInRequired:
        return RedirectResponse("/login", status_code=303)
    target = "/audit" if session.caller.role is Role.AUDITOR else "/inbox"
    return RedirectResponse(target, status_code=303)


@router.get("/login")
async def login_form(request: Request, context: WebDep) -> Response:
    """Development sign-in: choose an agency, a role and a name."""
    if context.signing_key is None:
        raise UpstreamError(404, "Development sign-in is off; sign in through your organisation.")
    return page(request, "login.html", None, agencies=context.partnership.agencies, roles=Role,
                error=None, values={})  # fmt: skip


@router.post("/login")
async def login(request: Request, context: WebDep) -> Response:
    """Mint a development token with the local signing key and keep it in the session cookie."""
    if context.signing_key is None:
        raise UpstreamError(404, "Development sign-in is off.")
    check_origin(request)
    fields = await form_fields(request)
    name = fields.get("name", "").strip()
    agency = fields.get("agency", "")
    role = fields.get("role", "")
    known = {a.id for a in context.partnership.agencies}
    if not name or len(name) > 100 or agency not in known or role not in set(Role):
        return page(request, "login.html", None, status_code=422,
                    agencies=context.partnership.agencies, roles=Role, values=fields,
                    error="Enter your name and choose an agency and a role.")  # fmt: skip
    token = mint_token(context.signing_key, agency=agency, role=Role(role), subject=name,
                       issuer=context.settings.jwt_issuer, audience=context.settings.jwt_audience,
                       lifetime=LIFETIME)  # fmt: skip
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(COOKIE, token, max_age=int(LIFETIME.total_seconds()), path="/",
                        httponly=True, samesite="strict",
                        secure=context.settings.cookie_secure)  # fmt: skip
    return response


@router.post("/logout")
async def logout(request: Request, session: SessionDep) -> Response:
    """Forget the session cookie."""
    check_form(request, session, await form_fields(request))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/inbox")
async def inbox(
    request: Request, context: WebDep, session: SessionDep, cursor: str | None = None
) -> Response:
    """The agency's notifications, newest first; the first page updates live."""
    _need(session, *READERS)
    params = {"limit": "50", **({"cursor": cursor} if cursor else {})}
    found = await context.upstream.call(context.upstream.routing, "GET", "/v1/notifications",
                                        answer=NotificationPage, token=session.token,
                                        params=params,
                                        correlation_id=_correlation(request))  # fmt: skip
    return page(request, "inbox.html", session, notifications=found.items,
                next_cursor=found.next_cursor, live=cursor is None)  # fmt: skip


@router.get("/inbox/stream")
async def inbox_stream(request: Request, context: WebDep, session: SessionDep) -> Response:
    """Routing's notification stream for this person, each event rendered as an inbox row."""
    _need(session, *READERS)
    upstream = await context.upstream.open_stream(
        token=session.token, last_event_id=request.headers.get("last-event-id")
    )

    async def rows() -> AsyncIterator[ServerSentEvent]:
        try:
            async for event in server_sent_events(upstream.aiter_lines()):
                if event.event != "notification":
                    continue
                notification = NotificationView.model_validate_json(event.data)
                yield ServerSentEvent(data=render_row(context, notification),
                                      id=event.id, event="notification")  # fmt: skip
        finally:
            await upstream.aclose()

    response: Response = EventSourceResponse(rows(), ping=15)
    return response


@router.get("/inbox/{notification_id}")
async def notification(
    notification_id: UUID, request: Request, context: WebDep, session: SessionDep
) -> Response:
    """One notification: only what the sharing profile allows (opening it is audited)."""
    _need(session, *READERS)
    shown = await context.upstream.call(context.upstream.routing, "GET",
                                        f"/v1/notifications/{notification_id}",
                                        answer=NotificationView, token=session.token,
                                        correlation_id=_correlation(request))  # fmt: skip
    return page(request, "notification.html", session, n=shown,
                withheld=views.withheld_parts(shown),
                acknowledged=request.query_params.get("acknowledged") == "1")  # fmt: skip


@router.post("/inbox/{notification_id}/acknowledge")
async def acknowledge(
    notification_id: UUID, request: Request, context: WebDep, session: SessionDep
) -> Response:
    """Acknowledge a notification, then show it again."""
    _need(session, *READERS)
    check_form(request, session, await form_fields(request))
    await context.upstream.call(context.upstream.routing, "POST",
                                f"/v1/notifications/{notification_id}/acknowledge",
                                answer=NotificationView, token=session.token,
                                correlation_id=_correlation(request))  # fmt: skip
    return RedirectResponse(f"/inbox/{notification_id}?acknowledged=1", status_code=303)


@router.get("/audit")
async def audit_search(request: Request, context: WebDep, session: SessionDep) -> Response:
    """Search the audit log by concern, person, agency, action and time."""
    _need(session, Role.AUDITOR)
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
                                                correlation_id=_correlation(request))  # fmt: skip
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
    _need(session, Role.AUDITOR)
    trail = await context.upstream.call(context.upstream.audit, "GET",
                                        f"/v1/audit/concerns/{concern_id}/trail",
                                        answer=ConcernTrail, token=session.token,
                                        correlation_id=_correlation(request))  # fmt: skip
    rows = [views.audit_row(entry) for entry in trail.items]
    return page(request, "audit_trail.html", session, concern_id=concern_id, rows=rows)


@router.get("/audit/integrity")
async def audit_integrity(request: Request, context: WebDep, session: SessionDep) -> Response:
    """Whether the log recomputes, and the latest signed tree head."""
    _need(session, Role.AUDITOR)
    verdict = await context.upstream.call(context.upstream.audit, "GET", "/v1/audit/verify",
                                          answer=Verification, token=session.token,
                                          correlation_id=_correlation(request))  # fmt: skip
    return page(request, "audit_integrity.html", session, verdict=verdict,
                head=verdict.latest_tree_head)  # fmt: skip


@router.get("/audit/export")
async def audit_export(request: Request, context: WebDep, session: SessionDep) -> Response:
    """Every entry matching the filters, as CSV or JSON, fetched page by page."""
    _need(session, Role.AUDITOR)
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
