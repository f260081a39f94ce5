"""Checking tree heads and proofs offline with only the public key.

Pure: imports the contract, the Merkle and tree-head definitions and the standard library.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from schemas.v1 import ConsistencyProof, InclusionProof, TreeHeadView
from services.audit.merkle import MerkleAccumulator, leaf_hash, verify_consistency, verify_inclusion
from services.audit.tree_head import verify_tree_head

# The documents live in the contract; named here too for callers that still import them here.
__all__ = [
    "ConsistencyProof",
    "InclusionProof",
    "TreeHeadView",
    "TreeVerdict",
    "check_consistency",
    "check_head",
    "check_inclusion",
    "check_tree",
]


def _hashes(values: list[str]) -> list[bytes] | None:
    try:
        return [bytes.fromhex(value) for value in values]
    except ValueError:
        return None


def check_head(head: TreeHeadView, public_key: Ed25519PublicKey | None) -> str | None:
    """Why the head's signature does not check out, or None if it does (or no key is given)."""
    if public_key is None:
        return None
    try:
        signed = head.signed()
    except ValidationError:
        return f"tree head of size {head.tree_size} is malformed"
    if signed is None:
        return f"tree head of size {head.tree_size} is not signed"
    if not verify_tree_head(public_key, signed):
        return f"tree head of size {head.tree_size} has a bad signature"
    return None


def check_inclusion(proof: InclusionProof, public_key: Ed25519PublicKey | None) -> str | None:
    """Why an inclusion proof fails, or None if the entry is in the signed tree."""
    head_fault = check_head(proof.tree_head, public_key)
    if head_fault:
        return head_fault
    path, root = _hashes(proof.audit_path), _hashes([proof.tree_head.root_hash])
    if path is None or root is None:
        return "a hash is not hex"
    leaf = leaf_hash(proof.content.encode("utf-8"))
    if leaf.hex() != proof.leaf_hash:
        return "the leaf hash does not match the content"
    if proof.leaf_index != proof.seq - 1:
        return "the leaf index does not match the seq"
    if not verify_inclusion(leaf, proof.leaf_index, proof.tree_head.tree_size, path, root[0]):
        return "the audit path does not lead to the root"
    return None


def check_consistency(proof: ConsistencyProof, public_key: Ed25519PublicKey | None) -> str | None:
    """Why a consistency proof fails, or None if the first tree is a prefix of the second."""
    for head in (proof.first, proof.second):
        head_fault = check_head(head, public_key)
        if head_fault:
            return head_fault
    path = _hashes(proof.proof)
    roots = _hashes([proof.first.root_hash, proof.second.root_hash])
    if path is None or roots is None:
        return "a hash is not hex"
    if not verify_consistency(
        proof.first.tree_size, proof.second.tree_size, roots[0], roots[1], path
    ):
        return "the proof does not join the two roots"
    return None


@dataclass(frozen=True, slots=True)
class TreeVerdict:
    """Whether every recorded head matches the tree recomputed from the leaf hashes."""

    ok: bool
    tree_size: int
    root_hash: bytes
    first_bad_seq: int | None = None
    detail: str = ""


def check_tree(
    leaf_hashes: Iterable[bytes],
    heads: Sequence[TreeHeadView],
    public_key: Ed25519PublicKey | None,
) -> TreeVerdict:
    """Recompute the Merkle root after each head's size and compare; stop at the first mismatch.

    A mismatch at a head of size n, after a good head of size m, means some entry in m+1..n
    changed; ``first_bad_seq`` is m+1, the first entry that can no longer be vouched for.
    """
    pending = sorted(heads, key=lambda head: head.tree_size)
    accumulator, good_size, position = MerkleAccumulator(), 0, 0

    def compare(head: TreeHeadView) -> TreeVerdict | None:
        fault = check_head(head, public_key)
        if fault is None and accumulator.root().hex() != head.root_hash:
            fault = f"root of the first {head.tree_size} entries does not match the signed head"
        if fault is None:
            return None
        return TreeVerdict(False, accumulator.size, accumulator.root(), good_size + 1, fault)

    for leaf in leaf_hashes:
        while position < len(pending) and pending[position].tree_size == accumulator.size:
            verdict = compare(pending[position])
            if verdict:
                return verdict
            good_size, position = accumulator.size, position + 1
        accumulator = accumulator.appended(leaf)
    while position < len(pending) and pending[position].tree_size == accumulator.size:
        verdict = compare(pending[position])
        if verdict:
            return verdict
        good_size, position = accumulator.size, position + 1
    if position < len(pending):
        size = pending[position].tree_size
        detail = f"a head covers {size} entries but only {accumulator.size} exist"
        return TreeVerdict(False, accumulator.size, accumulator.root(), good_size + 1, detail)
    return TreeVerdict(True, accumulator.size, accumulator.root())
