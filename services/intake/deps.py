"""What intake's routes share: a unit of work per request and the partnership."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.common.runtime import RuntimeDep
from services.intake.unit_of_work import IntakeUnitOfWork, intake_unit_of_work
from services.partnership import Partnership


async def unit_of_work(runtime: RuntimeDep) -> IntakeUnitOfWork:
    """A new unit of work on the service's database, for one request."""
    return intake_unit_of_work(runtime)


async def partnership(request: Request) -> Partnership:
    """The partnership the service was started with."""
    value: Partnership = request.app.state.partnership
    return value


UowDep = Annotated[IntakeUnitOfWork, Depends(unit_of_work)]
PartnershipDep = Annotated[Partnership, Depends(partnership)]
