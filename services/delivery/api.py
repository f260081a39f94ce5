"""Delivery's HTTP routes: a delivery admin's view of the agency's deliveries, and redelivery."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status

from schemas.v1.delivery import DeliveryPage, DeliveryStatus, DeliveryView
from services.common.auth import CallerDep, Role, require_role
from services.common.problems import problem_doc
from services.common.runtime import RuntimeDep
from services.delivery import service
from services.delivery.unit_of_work import DeliveryUnitOfWork, delivery_unit_of_work

router = APIRouter(prefix="/v1", tags=["deliveries"])

COMMON: dict[int | str, dict[str, Any]] = {
    401: problem_doc("Missing, expired or forged bearer token."),
    403: problem_doc("Not a delivery_admin, or another agency's deliveries."),
    503: problem_doc("The database is unreachable for a moment; retry."),
}


async def delivery_uow(runtime: RuntimeDep) -> DeliveryUnitOfWork:
    """A unit of work on delivery's database for this request."""
    return delivery_unit_of_work(runtime)


DeliveryUowDep = Annotated[DeliveryUnitOfWork, Depends(delivery_uow)]


def _cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(str(seq).encode()).decode()


def _seq(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        return int(base64.urlsafe_b64decode(cursor.encode()).decode())
    except ValueError as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "The cursor is not valid.") from error


@router.get(
    "/deliveries",
    response_model=DeliveryPage,
    responses={**COMMON, 400: problem_doc("The cursor is not valid.")},
)
async def list_deliveries(
    caller: CallerDep,
    uow: DeliveryUowDep,
    agency: Annotated[str | None, Query(description="The caller's own agency (default).")] = None,
    status_: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> DeliveryPage:
    """The agency's deliveries into its own systems, newest first, of one status if given."""
    require_role(caller, Role.DELIVERY_ADMIN)
    try:
        found = await service.list_deliveries(
            uow, caller, agency=agency or caller.agency, status=status_,
            limit=limit + 1, before_seq=_seq(cursor),
        )  # fmt: skip
    except PermissionError as other:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "Only the caller's own agency's deliveries."
        ) from other
    page = found[:limit]
    more = len(found) > limit
    return DeliveryPage(
        items=[d.view() for d in page], next_cursor=_cursor(page[-1].seq) if more else None
    )


@router.post(
    "/deliveries/{delivery_id}/redeliver",
    response_model=DeliveryView,
    responses={
        **COMMON,
        404: problem_doc("No such delivery for the caller's agency."),
        409: problem_doc("The delivery is pending or delivered: nothing to redeliver."),
    },
)
async def redeliver(
    delivery_id: UUID, caller: CallerDep, uow: DeliveryUowDep, request: Request
) -> DeliveryView:
    """Send a failed, dead-lettered or disabled delivery again (attempts kept); audited."""
    require_role(caller, Role.DELIVERY_ADMIN)
    try:
        delivery = await service.redeliver(
            uow, caller, delivery_id, now=datetime.now(UTC),
            correlation_id=request.state.correlation_id, path=request.url.path,
        )  # fmt: skip
    except service.DeliveryNotFound as missing:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such delivery.") from missing
    except service.NotRedeliverable as settled:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"The delivery is {settled.status.value}."
        ) from settled
    return delivery.view()
