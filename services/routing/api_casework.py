"""Routing's HTTP routes for casework: record a decision on a notification, assign it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import JSONResponse

from schemas.v1 import NotificationView
from schemas.v1.api import AssignmentRequest, DecisionRequest
from services.common.auth import CallerDep, Role, require_role
from services.common.problems import FieldError, problem_doc, problem_response
from services.routing import casework
from services.routing.api import (
    COMMON,
    NOT_FOUND,
    READERS,
    PartnershipDep,
    RoutingUowDep,
    request_correlation_id,
    view,
)
from services.routing.casework import DecisionRefused, DecisionRequested, NotDecidable
from services.routing.inbox import NotificationNotFound

router = APIRouter(prefix="/v1", tags=["notifications"])


BODY: dict[int | str, dict[str, Any]] = {
    400: problem_doc("The body is not valid JSON."),
    413: problem_doc("The body is larger than allowed."),
}
REFUSED: dict[int | str, dict[str, Any]] = {
    **BODY,
    409: problem_doc("Feedback reports a decision and takes none."),
    422: problem_doc(
        "Not a decision of the agency's kind; `valid_codes` lists those it may record."
    ),
}


@router.post(
    "/notifications/{notification_id}/decision",
    response_model=NotificationView,
    responses={**COMMON, 404: NOT_FOUND, **REFUSED},
)
async def decide_notification(
    notification_id: UUID,
    body: DecisionRequest,
    caller: CallerDep,
    uow: RoutingUowDep,
    partnership: PartnershipDep,
    request: Request,
) -> NotificationView | JSONResponse:
    """Record the agency's decision; the same again changes nothing, another is a revision.

    Each decision is audited and fed back to the agency that raised the concern.
    """
    require_role(caller, *READERS)
    try:
        opened = await casework.decide_notification(
            uow, caller, notification_id,
            DecisionRequested(decision=body.decision, rationale=body.rationale),
            partnership=partnership, now=datetime.now(UTC),
            correlation_id=request_correlation_id(request), path=request.url.path,
        )  # fmt: skip
    except NotificationNotFound as missing:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such notification.") from missing
    except NotDecidable as refused:
        return problem_response(status.HTTP_409_CONFLICT, str(refused), request=request)
    except DecisionRefused as refused:
        codes = refused.valid_codes or []
        return problem_response(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            str(refused),
            request=request,
            errors=[FieldError(field="decision", message="Use one of: " + ", ".join(codes))],
            valid_codes=codes,
        )
    return view(opened.stored, partnership=partnership, decisions=opened.decisions)


@router.post(
    "/notifications/{notification_id}/assign",
    response_model=NotificationView,
    responses={**COMMON, **BODY, 404: NOT_FOUND},
)
async def assign_notification(
    notification_id: UUID,
    body: AssignmentRequest,
    caller: CallerDep,
    uow: RoutingUowDep,
    partnership: PartnershipDep,
    request: Request,
) -> NotificationView:
    """Claim a notification, or give it to a colleague in the agency; it is audited."""
    require_role(caller, Role.CASEWORKER)
    try:
        opened = await casework.assign_notification(
            uow, caller, notification_id, assignee=body.assignee, now=datetime.now(UTC),
            correlation_id=request_correlation_id(request), path=request.url.path,
        )  # fmt: skip
    except NotificationNotFound as missing:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such notification.") from missing
    return view(opened.stored, partnership=partnership, decisions=opened.decisions)
