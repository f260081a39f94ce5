"""What audit's routes share: the runtime, the tree-head key, error docs, and auditing a query."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Request

from schemas.v1 import AuditAction, AuditEvent, AuditEventPayload, Topic
from services.audit.tree_head import TreeSigner
from services.common.auth import Caller
from services.common.outbox import enqueue
from services.common.problems import problem_doc
from services.common.runtime import ServiceRuntime


async def tree_signer(request: Request) -> TreeSigner:
    """The service's tree-head key, if configured."""
    value: TreeSigner = getattr(request.app.state, "tree_signer", TreeSigner())
    return value


SignerDep = Annotated[TreeSigner, Depends(tree_signer)]


async def event_filters(
    concern_id: UUID | None = None,
    actor: str | None = None,
    agency: str | None = None,
    action: AuditAction | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """The filters /events and /export share, as store.find_entries takes them."""
    return {
        "concern_id": concern_id,
        "actor": actor,
        "agency": agency,
        "action": action.value if action else None,
        "since": since,
        "until": until,
    }


FiltersDep = Annotated[dict[str, Any], Depends(event_filters)]


COMMON: dict[int | str, dict[str, Any]] = {
    401: problem_doc("Missing, expired or forged bearer token."),
    403: problem_doc("Only auditors may read the audit log."),
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    **COMMON,
    404: problem_doc("No such entry or tree head (yet)."),
}


async def record_query(
    service: ServiceRuntime, request: Request, caller: Caller, details: dict[str, Any]
) -> None:
    """Audit an auditor's query as ``audit.queried``: its filters only, no personal data."""
    async with service.unit_of_work() as uow:
        event = AuditEvent(
            producer="audit",
            correlation_id=request.state.correlation_id,
            payload=AuditEventPayload(
                action=AuditAction.AUDIT_QUERIED,
                actor=caller.as_actor(),
                concern_id=details.get("concern_id"),
                details={k: str(v) for k, v in details.items() if v is not None},
            ),
        )
        await enqueue(uow.session, service.outbox, event, topic=Topic.AUDIT_EVENTS, key=None)
        await uow.commit()
    service.relay.wake()
