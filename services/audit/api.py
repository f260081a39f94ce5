"""Audit's HTTP routes: auditors query the log and check that it has not been altered."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from services.audit import store, store_tree
from services.audit.api_export import export_response
from services.audit.chain import verify_chain
from services.audit.deps import COMMON, NOT_FOUND, FiltersDep, SignerDep, record_query
from services.audit.merkle import consistency_proof, inclusion_proof, leaf_hash
from services.audit.proofs import (
    ConsistencyProof,
    InclusionProof,
    TreeHeadView,
    check_tree,
)
from services.audit.views import AuditPage, ConcernTrail, ExportFormat, page
from services.audit.views import concern_trail as concern_trail_view
from services.common.auth import CallerDep, Role, require_role
from services.common.runtime import RuntimeDep

router = APIRouter(prefix="/v1/audit", tags=["audit"])


class Verification(BaseModel):
    """Whether the chain and the Merkle tree recompute; if not, where they first differ."""

    ok: bool
    entries: int
    head_hash: str
    tree_size: int = 0
    root_hash: str | None = None
    latest_tree_head: TreeHeadView | None = None
    first_bad_seq: int | None = None
    fault: str | None = None
    detail: str | None = None


@router.get("/events", response_model=AuditPage, responses=COMMON)
async def audit_events(
    caller: CallerDep,
    service: RuntimeDep,
    request: Request,
    filters: FiltersDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[int, Query(ge=0)] = 0,
) -> AuditPage:
    """Audit entries matching every filter, oldest first; the query itself is audited."""
    require_role(caller, Role.AUDITOR)
    await record_query(service, request, caller, {"query": "events", **filters})
    async with service.unit_of_work() as uow:
        found = await store.find_entries(uow.session, limit=limit + 1, after_seq=cursor, **filters)
    return page(found, limit)


@router.get(
    "/concerns/{concern_id}/trail",
    response_model=ConcernTrail,
    responses={**COMMON, 200: {"content": {"text/csv": {}}}},
)
async def concern_trail(
    concern_id: UUID,
    caller: CallerDep,
    service: RuntimeDep,
    request: Request,
    format_: Annotated[ExportFormat | None, Query(alias="format")] = None,
) -> ConcernTrail | StreamingResponse:
    """Everything recorded about one concern, in order, with a readable summary of each step.

    With ``format=csv`` or ``format=json`` the raw entries come as a streamed attachment instead.
    """
    require_role(caller, Role.AUDITOR)
    details = {"query": "trail", "concern_id": concern_id, "format": format_}
    await record_query(service, request, caller, details)
    if format_ is not None:
        filters = {"concern_id": concern_id}
        return export_response(service, format_, filters, f"audit-trail-{concern_id}")
    async with service.unit_of_work() as uow:
        found = await store.find_entries(uow.session, limit=100_000, concern_id=concern_id)
    return concern_trail_view(found)


@router.get("/verify", response_model=Verification, responses=COMMON)
async def verify(
    caller: CallerDep, service: RuntimeDep, signer: SignerDep, request: Request
) -> Verification:
    """Recompute the hash chain and the Merkle tree over every entry and check the signed heads."""
    require_role(caller, Role.AUDITOR)
    await record_query(service, request, caller, {"query": "verify"})
    async with service.unit_of_work() as uow:
        heads = await store_tree.all_tree_heads(uow.session)
        rows = [row async for row in store.stream_chain(uow.session)]
    chain = verify_chain(rows)
    tree = check_tree((leaf_hash(row.content) for row in rows), heads, signer.public_key)
    # A chain fault names the exact entry; the tree can only say after which good head.
    if chain.seq is not None:
        fault_name = chain.fault.value if chain.fault else None
        first_bad, fault, detail = chain.seq, fault_name, chain.detail
    elif tree.first_bad_seq is not None:
        first_bad, fault, detail = tree.first_bad_seq, "tree_head_mismatch", tree.detail
    else:
        first_bad, fault, detail = None, None, ""
    return Verification(
        ok=chain.ok and tree.ok,
        entries=chain.rows_checked,
        head_hash=chain.head_hash.hex(),
        tree_size=tree.tree_size,
        root_hash=tree.root_hash.hex(),
        latest_tree_head=heads[-1] if heads else None,
        first_bad_seq=first_bad,
        fault=fault,
        detail=detail or None,
    )


def _not_found(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, detail)


@router.get("/tree-heads/latest", response_model=TreeHeadView, responses=NOT_FOUND)
async def latest_tree_head(
    caller: CallerDep, service: RuntimeDep, request: Request
) -> TreeHeadView:
    """The newest (signed) tree head."""
    require_role(caller, Role.AUDITOR)
    await record_query(service, request, caller, {"query": "tree-head"})
    async with service.unit_of_work() as uow:
        head = await store_tree.latest_tree_head(uow.session)
    if head is None:
        raise _not_found("No tree head has been recorded yet.")
    return head


@router.get("/entries/{seq}/proof", response_model=InclusionProof, responses=NOT_FOUND)
async def entry_proof(
    seq: Annotated[int, Path(ge=1)], caller: CallerDep, service: RuntimeDep, request: Request
) -> InclusionProof:
    """Proof that one entry is in the tree of the latest signed head."""
    require_role(caller, Role.AUDITOR)
    await record_query(service, request, caller, {"query": "inclusion-proof", "seq": seq})
    async with service.unit_of_work() as uow:
        head = await store_tree.latest_tree_head(uow.session)
        if head is None or seq > head.tree_size:
            raise _not_found(f"Entry {seq} is not yet covered by a tree head.")
        content = await store_tree.entry_content(uow.session, seq=seq)
        leaves = await store_tree.leaf_hashes(uow.session, tree_size=head.tree_size)
    if content is None:
        raise _not_found(f"Entry {seq} does not exist.")
    return InclusionProof(
        seq=seq,
        leaf_index=seq - 1,
        content=content.decode("utf-8"),
        leaf_hash=leaf_hash(content).hex(),
        audit_path=[h.hex() for h in inclusion_proof(seq - 1, leaves)],
        tree_head=head,
    )


@router.get("/consistency", response_model=ConsistencyProof, responses=NOT_FOUND)
async def consistency(
    first: Annotated[int, Query(ge=1)],
    second: Annotated[int, Query(ge=1)],
    caller: CallerDep,
    service: RuntimeDep,
    request: Request,
) -> ConsistencyProof:
    """Proof that the tree of the head of size ``first`` is a prefix of that of size ``second``."""
    require_role(caller, Role.AUDITOR)
    details = {"query": "consistency-proof", "first": first, "second": second}
    await record_query(service, request, caller, details)
    if first > second:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "first must not exceed second.")
    async with service.unit_of_work() as uow:
        older = await store_tree.find_tree_head(uow.session, tree_size=first)
        newer = await store_tree.find_tree_head(uow.session, tree_size=second)
        if older is None or newer is None:
            raise _not_found("Both sizes must be those of recorded tree heads.")
        leaves = await store_tree.leaf_hashes(uow.session, tree_size=second)
    proof = consistency_proof(first, leaves)
    return ConsistencyProof(first=older, second=newer, proof=[h.hex() for h in proof])
