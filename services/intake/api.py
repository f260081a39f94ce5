"""Intake's HTTP routes: agency systems submit concerns and ask how far each recipient got."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request, status
from fastapi.responses import JSONResponse

from schemas.v1 import ConcernAccepted, ConcernStatusPage, ConcernStatusView, ConcernSubmission
from services.common.auth import CallerDep
from services.common.problems import FieldError, problem_doc, problem_response
from services.common.runtime import RuntimeDep
from services.intake import service
from services.intake.accept import Accepted
from services.intake.deps import PartnershipDep, UowDep
from services.intake.policy import Resubmission

router = APIRouter(prefix="/v1", tags=["concerns"])
CONCERN_ID_LENGTH = 36


async def require_json(request: Request) -> None:
    """415 unless the body is JSON."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "Send the concern as application/json."
        )


@router.post(
    "/concerns",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ConcernAccepted,
    dependencies=[Depends(require_json)],
    responses={
        200: {"description": "The same concern was submitted before.", "model": ConcernAccepted},
        400: problem_doc("The body is not valid JSON."),
        401: problem_doc("Missing, expired or forged bearer token."),
        403: problem_doc("The role may not submit, or the agency is not in the partnership."),
        409: problem_doc(
            "The source reference was used before for a different concern; `concern_id` names it."
        ),
        413: problem_doc("The body is larger than allowed."),
        415: problem_doc("The body is not application/json."),
        422: problem_doc("Fields are missing or invalid; each is listed."),
        503: problem_doc("The database is unreachable for a moment: nothing was kept; retry."),
    },
)
async def submit_concern(
    concern: Annotated[ConcernSubmission, Body()],
    caller: CallerDep,
    uow: UowDep,
    partnership: PartnershipDep,
    runtime: RuntimeDep,
    request: Request,
) -> Any:
    """Submit a concern about a child; it is routed to the agencies that should know."""
    submitted = await service.submit_concern(
        uow,
        partnership,
        caller=caller,
        concern=concern,
        channel="http",
        correlation_id=request.state.correlation_id,
        now=datetime.now(UTC),
    )
    match submitted:
        case service.RoleRefused():
            allowed = ", ".join(role.value for role in service.SUBMITTING_ROLES)
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"This needs the role {allowed}.")
        case service.AgencyRefused(agency=agency):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"Agency {agency!r} is not in the partnership."
            )
        case service.DatesRefused(errors=late):
            return problem_response(
                422,
                f"{len(late)} field(s) need correcting.",
                request=request,
                errors=[FieldError(field=field, message=message) for field, message in late],
            )
        case Accepted(outcome=Resubmission.CONFLICT, concern_id=concern_id):
            return problem_response(
                409,
                f"Source reference {concern.source_reference!r} was already used for concern "
                f"{concern_id} with different content.",
                request=request,
                concern_id=str(concern_id),
            )
    code = 202 if submitted.outcome is Resubmission.NEW else 200
    body = ConcernAccepted(concern_id=submitted.concern_id)
    return JSONResponse(body.model_dump(mode="json"), status_code=code)


@router.get(
    "/concerns/{concern_id}",
    response_model=ConcernStatusView,
    responses={
        401: problem_doc("Missing, expired or forged bearer token."),
        404: problem_doc("No such concern from the caller's agency."),
        503: problem_doc("The database is unreachable for a moment; retry."),
    },
)
async def get_concern(
    concern_id: Annotated[
        str, Path(description="The id intake gave the concern (a UUID, 36 characters).")
    ],
    caller: CallerDep,
    uow: UowDep,
) -> ConcernStatusView:
    """A concern's status and how far each recipient has got (the agency that raised it only)."""
    # A malformed id names no concern: 404 like any other, not a validation error.
    try:
        if len(concern_id) > CONCERN_ID_LENGTH:
            raise ValueError("longer than a UUID")
        wanted = UUID(concern_id)
    except ValueError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such concern.") from None
    found = await service.concern_status(
        uow, caller=caller, concern_id=wanted, now=datetime.now(UTC)
    )
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such concern.")
    return found


@router.get(
    "/concerns",
    response_model=ConcernStatusPage,
    responses={
        400: problem_doc("The cursor is not one a page of this listing gave."),
        401: problem_doc("Missing, expired or forged bearer token."),
        403: problem_doc("The role may not list concerns."),
        422: problem_doc("The limit is not a whole number from 1 to 100."),
        503: problem_doc("The database is unreachable for a moment; retry."),
    },
)
async def list_concerns(
    caller: CallerDep,
    uow: UowDep,
    limit: Annotated[
        int, Query(ge=1, le=service.MAX_PAGE, description="At most this many concerns.")
    ] = 20,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the page before.")] = None,
) -> ConcernStatusPage:
    """The caller's agency's concerns, newest first, with how far each recipient has got."""
    listed = await service.list_concerns(
        uow, caller=caller, limit=limit, cursor=cursor, now=datetime.now(UTC)
    )
    match listed:
        case service.RoleRefused():
            allowed = ", ".join(role.value for role in service.LISTING_ROLES)
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"This needs the role {allowed}.")
        case service.BadCursor():
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "The cursor is not valid.")
    return listed
