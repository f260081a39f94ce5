"""Audit's integrity use cases: verify the log, its signed tree heads, and proofs against them."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from schemas.v1 import ConsistencyProof, InclusionProof, TreeHeadView, Verification
from services.audit.chain import verify_chain
from services.audit.merkle import consistency_proof, inclusion_proof, leaf_hash
from services.audit.proofs import check_tree
from services.audit.service import NotRecorded, record_query
from services.audit.service_scope import agency_scope, record_denial, require_auditor
from services.audit.unit_of_work import AuditUnitOfWork, EntryFilters
from services.common.auth import Caller


class SizesReversed(ValueError):
    """A consistency proof was asked from a larger tree to a smaller one."""


async def verify_log(
    uow: AuditUnitOfWork,
    caller: Caller,
    public_key: Ed25519PublicKey | None,
    *,
    correlation_id: str,
) -> Verification:
    """Recompute the hash chain and the Merkle tree over every entry and check the signed heads."""
    require_auditor(caller)
    await record_query(uow, caller, {"query": "verify"}, correlation_id=correlation_id)
    async with uow:
        heads = await uow.tree.heads()
        rows = [row async for row in uow.entries.chain()]
    chain = verify_chain(rows)
    tree = check_tree((leaf_hash(row.content) for row in rows), heads, public_key)
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


async def latest_tree_head(
    uow: AuditUnitOfWork, caller: Caller, *, correlation_id: str
) -> TreeHeadView:
    """The newest (signed) tree head."""
    require_auditor(caller)
    await record_query(uow, caller, {"query": "tree-head"}, correlation_id=correlation_id)
    async with uow:
        head = await uow.tree.latest_head()
    if head is None:
        raise NotRecorded("No tree head has been recorded yet.")
    return head


async def entry_proof(
    uow: AuditUnitOfWork, caller: Caller, seq: int, *, correlation_id: str
) -> InclusionProof:
    """Proof that one entry is in the tree of the latest signed head."""
    require_auditor(caller)
    details = {"query": "inclusion-proof", "seq": seq}
    await record_query(uow, caller, details, correlation_id=correlation_id)
    async with uow:
        head = await uow.tree.latest_head()
        if head is None or seq > head.tree_size:
            raise NotRecorded(f"Entry {seq} is not yet covered by a tree head.")
        content = await uow.entries.content(seq=seq)
        leaves = await uow.tree.leaf_hashes(tree_size=head.tree_size)
        agency = agency_scope(caller)
        visible = agency is None or bool(
            await uow.entries.find(
                EntryFilters(visible_to=agency), limit=1, after_seq=seq - 1, through_seq=seq
            )
        )
    if content is not None and not visible:
        await record_denial(uow, caller, details, correlation_id=correlation_id)
    if content is None or not visible:
        # An entry about another agency answers exactly as a missing one.
        raise NotRecorded(f"Entry {seq} does not exist.")
    return InclusionProof(
        seq=seq,
        leaf_index=seq - 1,
        content=content.decode("utf-8"),
        leaf_hash=leaf_hash(content).hex(),
        audit_path=[h.hex() for h in inclusion_proof(seq - 1, leaves)],
        tree_head=head,
    )


async def consistency(
    uow: AuditUnitOfWork, caller: Caller, first: int, second: int, *, correlation_id: str
) -> ConsistencyProof:
    """Proof that the tree of the head of size ``first`` is a prefix of that of size ``second``."""
    require_auditor(caller)
    details = {"query": "consistency-proof", "first": first, "second": second}
    await record_query(uow, caller, details, correlation_id=correlation_id)
    if first > second:
        raise SizesReversed("first must not exceed second.")
    async with uow:
        older = await uow.tree.find_head(tree_size=first)
        newer = await uow.tree.find_head(tree_size=second)
        if older is None or newer is None:
            raise NotRecorded("Both sizes must be those of recorded tree heads.")
        leaves = await uow.tree.leaf_hashes(tree_size=second)
    proof = consistency_proof(first, leaves)
    return ConsistencyProof(first=older, second=newer, proof=[h.hex() for h in proof])
