"""Audit's HTTP routes: auditors query the log and check that it has not been altered."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query
from fastapi.responses import StreamingResponse

from schemas.v1 import (
    AuditEntryView,
    AuditPage,
    ConcernTrail,
    ConsistencyProof,
    ExportFormat,
    InclusionProof,
    PolicyView,
    TreeHeadView,
    Verification,
)
from services.audit import service, service_integrity, service_policies
from services.audit.api_export import export_response
from services.audit.deps import (
    COMMON,
    MAX_SEQ,
    NOT_FOUND,
    CorrelationDep,
    Cursor,
    FiltersDep,
    Limit,
    SignerDep,
    UowDep,
)
from services.common.auth import CallerDep

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("/events", response_model=AuditPage, responses=COMMON)
async def audit_events(
    caller: CallerDep,
    uow: UowDep,
    correlation_id: CorrelationDep,
    filters: FiltersDep,
    limit: Limit = 100,
    cursor: Cursor = 0,
) -> AuditPage:
    """Audit entries matching every filter, oldest first; the query itself is audited."""
    return await service.find_audit_events(
        uow, caller, filters, limit=limit, cursor=cursor, correlation_id=correlation_id
    )


@router.get(
    "/concerns/{concern_id}/trail",
    # The trail, or (format=json) its raw entries as an attachment.
    response_model=ConcernTrail | list[AuditEntryView],
    responses={**COMMON, 200: {"content": {"text/csv": {}}}},
)
async def concern_trail(
    concern_id: UUID,
    caller: CallerDep,
    uow: UowDep,
    correlation_id: CorrelationDep,
    format_: Annotated[ExportFormat | None, Query(alias="format")] = None,
) -> ConcernTrail | StreamingResponse:
    """Everything recorded about one concern, in order, with a readable summary of each step.

    With ``format=csv`` or ``format=json`` the raw entries come as a streamed attachment instead.
    """
    if format_ is None:
        return await service.concern_trail(uow, caller, concern_id, correlation_id=correlation_id)
    chunks = await service.export_trail(
        uow, caller, concern_id, format_, correlation_id=correlation_id
    )
    return export_response(chunks, format_, f"audit-trail-{concern_id}")


@router.get("/verify", response_model=Verification, responses=COMMON)
async def verify(
    caller: CallerDep, uow: UowDep, signer: SignerDep, correlation_id: CorrelationDep
) -> Verification:
    """Recompute the hash chain and the Merkle tree over every entry and check the signed heads."""
    return await service_integrity.verify_log(
        uow, caller, signer.public_key, correlation_id=correlation_id
    )


@router.get("/tree-heads/latest", response_model=TreeHeadView, responses=NOT_FOUND)
async def latest_tree_head(
    caller: CallerDep, uow: UowDep, correlation_id: CorrelationDep
) -> TreeHeadView:
    """The newest (signed) tree head."""
    return await service_integrity.latest_tree_head(uow, caller, correlation_id=correlation_id)


@router.get("/entries/{seq}/proof", response_model=InclusionProof, responses=NOT_FOUND)
async def entry_proof(
    seq: Annotated[int, Path(ge=1, le=MAX_SEQ)],
    caller: CallerDep,
    uow: UowDep,
    correlation_id: CorrelationDep,
) -> InclusionProof:
    """Proof that one entry is in the tree of the latest signed head."""
    return await service_integrity.entry_proof(uow, caller, seq, correlation_id=correlation_id)


@router.get("/consistency", response_model=ConsistencyProof, responses=NOT_FOUND)
async def consistency(
    first: Annotated[int, Query(ge=1, le=MAX_SEQ)],
    second: Annotated[int, Query(ge=1, le=MAX_SEQ)],
    caller: CallerDep,
    uow: UowDep,
    correlation_id: CorrelationDep,
) -> ConsistencyProof:
    """Proof that the tree of the head of size ``first`` is a prefix of that of size ``second``."""
    return await service_integrity.consistency(
        uow, caller, first, second, correlation_id=correlation_id
    )


@router.get("/policies/{version}", response_model=PolicyView, responses=NOT_FOUND)
async def policy_version(
    version: Annotated[str, Path(min_length=1, max_length=200)],
    caller: CallerDep,
    uow: UowDep,
    correlation_id: CorrelationDep,
) -> PolicyView:
    """The partnership file in force under a policy version, its SHA-256 and since when."""
    return await service_policies.policy_version(
        uow, caller, version, correlation_id=correlation_id
    )
