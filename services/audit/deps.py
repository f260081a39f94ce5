"""What audit's routes share: the unit of work, the tree-head key, filters and error docs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Query, Request

from schemas.v1 import AuditAction
from services.audit.store_uow import SqlAuditUnitOfWork
from services.audit.tree_head import TreeSigner
from services.audit.unit_of_work import AuditUnitOfWork, EntryFilters
from services.common.problems import problem_doc
from services.common.runtime import RuntimeDep


async def tree_signer(request: Request) -> TreeSigner:
    """The service's tree-head key, if configured."""
    value: TreeSigner = getattr(request.app.state, "tree_signer", TreeSigner())
    return value


SignerDep = Annotated[TreeSigner, Depends(tree_signer)]


async def unit_of_work(service: RuntimeDep) -> AuditUnitOfWork:
    """A unit of work on audit's database, entered by the use case as often as it needs."""
    return SqlAuditUnitOfWork(service)


UowDep = Annotated[AuditUnitOfWork, Depends(unit_of_work)]


async def correlation_id(request: Request) -> str:
    """The request's correlation id, carried into the audit.queried entry."""
    value: str = request.state.correlation_id
    return value


CorrelationDep = Annotated[str, Depends(correlation_id)]


# Sequence numbers are PostgreSQL bigints: a larger cursor would fail in the database.
MAX_SEQ = 2**63 - 1
SUBJECT = Query(min_length=1, max_length=200, description="A person or system, as in tokens.")
AGENCY = Query(min_length=1, max_length=100, description="An agency id.")
Cursor = Annotated[int, Query(ge=0, le=MAX_SEQ)]
Limit = Annotated[int, Query(ge=1, le=1000)]


async def event_filters(
    concern_id: UUID | None = None,
    actor: Annotated[str | None, SUBJECT] = None,
    agency: Annotated[str | None, AGENCY] = None,
    action: AuditAction | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> EntryFilters:
    """The filters /events and /export share."""
    return EntryFilters(
        concern_id=concern_id,
        actor=actor,
        agency=agency,
        action=action.value if action else None,
        since=since,
        until=until,
    )


FiltersDep = Annotated[EntryFilters, Depends(event_filters)]


COMMON: dict[int | str, dict[str, Any]] = {
    401: problem_doc("Missing, expired or forged bearer token."),
    403: problem_doc("Only auditors may read the audit log."),
    503: problem_doc("The database is unreachable for a moment; retry."),
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    **COMMON,
    404: problem_doc("No such entry or tree head (yet)."),
}
