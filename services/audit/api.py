"""Audit's HTTP routes: auditors query the log and check that it has not been altered."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from pydantic import BaseModel

from schemas.v1 import AuditAction, AuditEvent, AuditEventPayload, Topic
from services.audit import store, store_tree
from services.audit.chain import verify_chain
from services.audit.merkle import consistency_proof, inclusion_proof, leaf_hash
from services.audit.proofs import (
    ConsistencyProof,
    InclusionProof,
    TreeHeadView,
    check_tree,
)
from services.audit.tree_head import TreeSigner
from services.common.auth import Caller, CallerDep, Role, require_role
from services.common.outbox import enqueue
from services.common.problems import PROBLEM, Problem
from services.common.runtime import ServiceRuntime

router = APIRouter(prefix="/v1/audit", tags=["audit"])


def runtime(request: Request) -> ServiceRuntime:
    """The running service."""
    value: ServiceRuntime = request.app.state.runtime
    return value


RuntimeDep = Annotated[ServiceRuntime, Depends(runtime)]


def tree_signer(request: Request) -> TreeSigner:
    """The service's tree-head key, if configured."""
    value: TreeSigner = getattr(request.app.state, "tree_signer", TreeSigner())
    return value


SignerDep = Annotated[TreeSigner, Depends(tree_signer)]


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "model": Problem, "content": {PROBLEM: {}}}


COMMON: dict[int | str, dict[str, Any]] = {
    401: _problem("Missing, expired or forged bearer token."),
    403: _problem("Only auditors may read the audit log."),
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    **COMMON,
    404: _problem("No such entry or tree head (yet)."),
}


class AuditEntryView(BaseModel):
    """One audit entry."""

    seq: int
    recorded_at: datetime
    entry_hash: str
    entry: dict[str, Any]


class AuditPage(BaseModel):
    """A page of audit entries, oldest first."""

    items: list[AuditEntryView]
    next_cursor: str | None = None


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


async def _record_query(
    service: ServiceRuntime, request: Request, caller: Caller, details: dict[str, Any]
) -> None:
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


def _page(found: list[store.Entry], limit: int) -> AuditPage:
    items = [
        AuditEntryView(
            seq=e.seq, recorded_at=e.recorded_at, entry_hash=e.entry_hash, entry=e.content
        )
        for e in found[:limit]
    ]
    return AuditPage(items=items, next_cursor=str(items[-1].seq) if len(found) > limit else None)


@router.get("/events", response_model=AuditPage, responses=COMMON)
async def audit_events(
    caller: CallerDep,
    service: RuntimeDep,
    request: Request,
    concern_id: UUID | None = None,
    actor: str | None = None,
    agency: str | None = None,
    action: AuditAction | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[int, Query(ge=0)] = 0,
) -> AuditPage:
    """Audit entries matching every filter, oldest first; the query itself is audited."""
    require_role(caller, Role.AUDITOR)
    filters: dict[str, Any] = {
        "concern_id": concern_id,
        "actor": actor,
        "agency": agency,
        "action": action.value if action else None,
        "since": since,
        "until": until,
    }
    await _record_query(service, request, caller, {"query": "events", **filters})
    async with service.unit_of_work() as uow:
        found = await store.find_entries(uow.session, limit=limit + 1, after_seq=cursor, **filters)
    return _page(found, limit)


@router.get("/concerns/{concern_id}/trail", response_model=AuditPage, responses=COMMON)
async def concern_trail(
    concern_id: UUID, caller: CallerDep, service: RuntimeDep, request: Request
) -> AuditPage:
    """Everything recorded about one concern, in order."""
    require_role(caller, Role.AUDITOR)
    await _record_query(service, request, caller, {"query": "trail", "concern_id": concern_id})
    async with service.unit_of_work() as uow:
        found = await store.find_entries(uow.session, limit=100_000, concern_id=concern_id)
    return _page(found, len(found))


@router.get("/verify", response_model=Verification, responses=COMMON)
async def verify(
    caller: CallerDep, service: RuntimeDep, signer: SignerDep, request: Request
) -> Verification:
    """Recompute the hash chain and the Merkle tree over every entry and check the signed heads."""
    require_role(caller, Role.AUDITOR)
    await _record_query(service, request, caller, {"query": "verify"})
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
    await _record_query(service, request, caller, {"query": "tree-head"})
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
    await _record_query(service, request, caller, {"query": "inclusion-proof", "seq": seq})
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
    await _record_query(service, request, caller, details)
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
