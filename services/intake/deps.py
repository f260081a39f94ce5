"""What intake's routes share: a unit of work per request and the partnership."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.common.runtime import RuntimeDep
from services.intake.unit_of_work import IntakeUnitOfWork, intake_unit_of_work
from services.partnership import Partnership
from services.partnership.holder import PartnershipHolder


async def unit_of_work(runtime: RuntimeDep) -> IntakeUnitOfWork:
    """A new unit of work on the service's database, for one request."""
    return intake_unit_of_work(runtime)


async def partnership(request: Request) -> Partnership:
    """The partnership in force now (a changed file is picked up without a restart)."""
    holder: PartnershipHolder = request.app.state.partnership_holder
    return holder.current


UowDep = Annotated[IntakeUnitOfWork, Depends(unit_of_work)]
PartnershipDep = Annotated[Partnership, Depends(partnership)]
