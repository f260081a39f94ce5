"""The caseworker's pages: the worklist, its live stream, one notification and its casework."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from sse_starlette import EventSourceResponse, ServerSentEvent

from schemas.v1 import (
    NotificationKind,
    NotificationPage,
    NotificationStatus,
    NotificationView,
    Severity,
)
from schemas.v1.api import AssignmentRequest, DecisionRequest, NotificationSummary
from services.common.auth import Role
from services.web import views, worklist
from services.web.context import WebContext, render_row
from services.web.page_kit import READERS, SessionDep, WebDep, correlation, need, page
from services.web.session import Session, check_form, form_fields
from services.web.upstream import StreamEvent, UpstreamError, server_sent_events

router = APIRouter(include_in_schema=False)
FLASHES = {
    "acknowledged": "You acknowledged this notification.",
    "decided": "Your decision is recorded; the agency that raised the concern is told of it.",
    "assigned": "The assignment is recorded.",
}
DECISION_ERROR = "Choose one of the decisions in the list: that is not one your agency records."
ASSIGNEE_ERROR = "Enter your colleague's name as they sign in with it."


@router.get("/inbox")
async def inbox(
    request: Request, context: WebDep, session: SessionDep, cursor: str | None = None
) -> Response:
    """The agency's worklist (overdue, then due time, then severity); the first page is live."""
    need(session, *READERS)
    filters = worklist.worklist_filters(request.query_params)
    params = {**filters.api_params(), **({"cursor": cursor} if cursor else {})}
    found = await context.upstream.call(context.upstream.routing, "GET", "/v1/notifications",
                                        answer=NotificationPage, token=session.token,
                                        params=params,
                                        correlation_id=correlation(request))  # fmt: skip
    return page(request, "inbox.html", session, notifications=found.items, filters=filters,
                counts=found.counts, stream_position=found.stream_position,
                next_cursor=found.next_cursor, live=cursor is None,
                statuses=list(NotificationStatus), severities=list(Severity),
                kinds=list(NotificationKind))  # fmt: skip


@router.get("/inbox/stream")
async def inbox_stream(request: Request, context: WebDep, session: SessionDep) -> Response:
    """Routing's stream for this agency, each new notification or change rendered as a row.

    It resumes from the browser's Last-Event-ID, or else from the position the page was read
    at (`after`), so nothing that changed between the page and the stream is missed.
    """
    need(session, *READERS)
    filters = worklist.worklist_filters(request.query_params)
    resume = request.headers.get("last-event-id") or request.query_params.get("after")
    upstream = await context.upstream.open_stream(
        token=session.token, last_event_id=resume if resume and resume.isdigit() else None
    )

    async def rows() -> AsyncIterator[ServerSentEvent]:
        try:
            async for event in server_sent_events(upstream.aiter_lines()):
                shown = _stream_row(context, session, filters, event)
                if shown is not None:
                    yield shown
        finally:
            await upstream.aclose()

    response: Response = EventSourceResponse(rows(), ping=15)
    return response


def _stream_row(
    context: WebContext, session: Session, filters: worklist.WorklistFilters, event: StreamEvent
) -> ServerSentEvent | None:
    if event.event == "notification":
        row = worklist.summary_of(NotificationView.model_validate_json(event.data))
    elif event.event == "change":
        row = NotificationSummary.model_validate_json(event.data)
    else:
        return None
    fits = worklist.matches(row, filters, subject=session.caller.subject)
    if event.event == "notification" and not fits:
        return None
    html = render_row(context, row, matches=fits)
    return ServerSentEvent(data=html, id=event.id, event=event.event)


async def _open(
    request: Request, context: WebContext, session: Session, notification_id: UUID
) -> NotificationView:
    return await context.upstream.call(context.upstream.routing, "GET",
                                       f"/v1/notifications/{notification_id}",
                                       answer=NotificationView, token=session.token,
                                       correlation_id=correlation(request))  # fmt: skip


def _show(
    request: Request, session: Session, shown: NotificationView, status_code: int = 200,
    **values: Any,
) -> Response:  # fmt: skip
    flash = next((FLASHES[name] for name in FLASHES if request.query_params.get(name) == "1"), None)
    return page(request, "notification.html", session, status_code=status_code, n=shown,
                withheld=views.withheld_parts(shown), flash=flash, **values)  # fmt: skip


@router.get("/inbox/{notification_id}")
async def notification(
    notification_id: UUID, request: Request, context: WebDep, session: SessionDep
) -> Response:
    """One notification: only what the sharing profile allows (opening it is audited)."""
    need(session, *READERS)
    return _show(request, session, await _open(request, context, session, notification_id))


@router.post("/inbox/{notification_id}/acknowledge")
async def acknowledge(
    notification_id: UUID, request: Request, context: WebDep, session: SessionDep
) -> Response:
    """Acknowledge a notification, then show it again."""
    need(session, *READERS)
    check_form(request, session, await form_fields(request))
    await context.upstream.call(context.upstream.routing, "POST",
                                f"/v1/notifications/{notification_id}/acknowledge",
                                answer=NotificationView, token=session.token,
                                correlation_id=correlation(request))  # fmt: skip
    return RedirectResponse(f"/inbox/{notification_id}?acknowledged=1", status_code=303)


@router.post("/inbox/{notification_id}/decision")
async def decide(
    notification_id: UUID, request: Request, context: WebDep, session: SessionDep
) -> Response:
    """Record the agency's decision (or revise it), then show the notification again."""
    need(session, *READERS)
    fields = await form_fields(request)
    check_form(request, session, fields)
    values = {"decision": fields.get("decision", ""), "rationale": fields.get("rationale", "")}
    try:
        body = DecisionRequest(decision=values["decision"],
                               rationale=values["rationale"].strip() or None)  # fmt: skip
    except ValidationError as invalid:
        return await _refused(request, context, session, notification_id, values,
                              _form_errors(invalid))  # fmt: skip
    return await _casework(request, context, session, notification_id, "decision", body, values)


@router.post("/inbox/{notification_id}/assign")
async def assign(
    notification_id: UUID, request: Request, context: WebDep, session: SessionDep
) -> Response:
    """Take a notification oneself, or give it to a colleague of the same agency."""
    need(session, Role.CASEWORKER)
    fields = await form_fields(request)
    check_form(request, session, fields)
    values = {"assignee": fields.get("assignee", "").strip()}
    try:
        body = AssignmentRequest(assignee=values["assignee"])
    except ValidationError:
        errors = {"assignee": ASSIGNEE_ERROR}
        return await _refused(request, context, session, notification_id, values, errors)
    return await _casework(request, context, session, notification_id, "assign", body, values)


async def _casework(
    request: Request, context: WebContext, session: Session, notification_id: UUID,
    action: str, body: DecisionRequest | AssignmentRequest, values: dict[str, str],
) -> Response:  # fmt: skip
    try:
        await context.upstream.call(context.upstream.routing, "POST",
                                    f"/v1/notifications/{notification_id}/{action}",
                                    answer=NotificationView, token=session.token, body=body,
                                    correlation_id=correlation(request))  # fmt: skip
    except UpstreamError as refused:
        if refused.status != 422:
            raise
        errors = {e.field.rsplit(".", 1)[-1]: e.message for e in refused.errors}
        if action == "decision":
            errors = {"decision": DECISION_ERROR} if "decision" in errors or not errors else errors
        else:
            errors = {"assignee": ASSIGNEE_ERROR}
        return await _refused(request, context, session, notification_id, values, errors)
    done = "decided" if action == "decision" else "assigned"
    return RedirectResponse(f"/inbox/{notification_id}?{done}=1", status_code=303)


async def _refused(
    request: Request, context: WebContext, session: Session, notification_id: UUID,
    values: dict[str, str], errors: dict[str, str],
) -> Response:  # fmt: skip
    shown = await _open(request, context, session, notification_id)
    return _show(request, session, shown, status_code=422, form_values=values,
                 form_errors=errors)  # fmt: skip


def _form_errors(invalid: ValidationError) -> dict[str, str]:
    words = {
        "decision": "Choose a decision.",
        "rationale": "Keep the rationale to 4,000 characters.",
    }
    named = {str(e["loc"][0]) for e in invalid.errors() if e["loc"]}
    return {name: words.get(name, "Check this field.") for name in named}
