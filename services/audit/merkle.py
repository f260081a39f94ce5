"""RFC 9162 (Certificate Transparency v2) Merkle tree over SHA-256, the same hashing as RFC 6962.

Leaf hash ``SHA-256(0x00 || data)``; interior node ``SHA-256(0x01 || left || right)``; the empty
tree's root is ``SHA-256("")``. A tree of n > 1 leaves splits at k, the largest power of two below
n: ``MTH(D[n]) = node(MTH(D[0:k]), MTH(D[k:n]))``. Proofs list hashes deepest first (RFC order).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypedDict

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


class AccumulatorState(TypedDict):
    """How an accumulator is stored: its size and its subtree roots in hex."""

    size: int
    hashes: list[str]


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 leaf hash: SHA-256 of 0x00 followed by the leaf input."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash: SHA-256 of 0x01, the left hash, then the right hash."""
    return hashlib.sha256(b"\x01" + left + right).digest()


@dataclass(frozen=True, slots=True)
class MerkleAccumulator:
    """A compact range [0, size): the roots of the perfect subtrees that make up the tree.

    ``hashes`` holds one root per set bit of ``size``, biggest (leftmost) subtree first, so it
    never has more than 64 entries. Store it as ``size`` plus ``hashes_hex()``.
    """

    size: int = 0
    hashes: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        if self.size < 0 or len(self.hashes) != self.size.bit_count():
            raise ValueError("a compact range of size n holds one hash per set bit of n")
        if any(len(h) != HASH_SIZE for h in self.hashes):
            raise ValueError("every hash in a compact range is 32 bytes")

    @classmethod
    def from_hex(cls, size: int, hashes: Iterable[str]) -> MerkleAccumulator:
        """Rebuild an accumulator from its stored size and hex hashes."""
        return cls(size, tuple(bytes.fromhex(h) for h in hashes))

    def hashes_hex(self) -> list[str]:
        """The subtree roots as lowercase hex, biggest subtree first, for storage."""
        return [h.hex() for h in self.hashes]

    def to_state(self) -> AccumulatorState:
        """A JSON-ready state: ``{"size": n, "hashes": [hex, ...]}``."""
        return {"size": self.size, "hashes": self.hashes_hex()}

    @classmethod
    def from_state(cls, state: AccumulatorState) -> MerkleAccumulator:
        """Rebuild an accumulator from ``to_state()`` output."""
        return cls.from_hex(state["size"], state["hashes"])

    def extended(self, leaf_hashes: Iterable[bytes]) -> MerkleAccumulator:
        """A new accumulator with these leaf hashes appended in order."""
        size, stack = self.size, list(self.hashes)
        for leaf in leaf_hashes:
            if len(leaf) != HASH_SIZE:
                raise ValueError("leaf hashes are 32 bytes")
            merged, n = leaf, size
            # Each trailing 1 bit of the old size is a same-height subtree to merge with.
            while n & 1:
                merged = node_hash(stack.pop(), merged)
                n >>= 1
            stack.append(merged)
            size += 1
        return MerkleAccumulator(size, tuple(stack))

    def appended(self, leaf_hash: bytes) -> MerkleAccumulator:
        """A new accumulator with one more leaf hash."""
        return self.extended((leaf_hash,))

    def root(self) -> bytes:
        """The Merkle tree hash of all leaves appended so far."""
        if not self.hashes:
            return EMPTY_ROOT
        result = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            result = node_hash(left, result)
        return result


# The name transparency-dev/merkle uses for the same structure.
CompactRange = MerkleAccumulator


def root_hash(leaves: Sequence[bytes]) -> bytes:
    """Merkle tree hash of already-computed leaf hashes, in O(n) time and O(log n) memory."""
    return MerkleAccumulator().extended(leaves).root()


def _split(n: int) -> int:
    """The largest power of two strictly below n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _subtree_root(leaves: Sequence[bytes], start: int, end: int) -> bytes:
    return MerkleAccumulator().extended(leaves[i] for i in range(start, end)).root()


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """RFC 9162 2.1.3.1 audit path for the leaf at ``index`` in the tree of ``leaf_hashes``."""
    if not 0 <= index < len(leaf_hashes):
        raise ValueError(f"leaf index {index} is outside a tree of size {len(leaf_hashes)}")
    start, end, path = 0, len(leaf_hashes), []
    while end - start > 1:
        k = _split(end - start)
        if index - start < k:
            path.append(_subtree_root(leaf_hashes, start + k, end))
            end = start + k
        else:
            path.append(_subtree_root(leaf_hashes, start, start + k))
            start += k
    path.reverse()
    return path


def consistency_proof(first_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """RFC 9162 2.1.4.1 proof that the first ``first_size`` leaves are a prefix of the tree."""
    if not 0 < first_size <= len(leaf_hashes):
        raise ValueError(f"first size {first_size} must be in 1..{len(leaf_hashes)}")
    start, end, m, whole = 0, len(leaf_hashes), first_size, True
    proof: list[bytes] = []
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            proof.append(_subtree_root(leaf_hashes, start + k, end))
            end = start + k
        else:
            proof.append(_subtree_root(leaf_hashes, start, start + k))
            start, m, whole = start + k, m - k, False
    if not whole:
        proof.append(_subtree_root(leaf_hashes, start, end))
    proof.reverse()
    return proof


def _all_hashes(*hashes: bytes) -> bool:
    return all(len(h) == HASH_SIZE for h in hashes)


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``proof`` shows ``leaf_hash`` at ``index`` in the tree with this size and root."""
    if not 0 <= index < tree_size or not _all_hashes(leaf_hash, root, *proof):
        return False
    fn, sn, r = index, tree_size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(
    first_size: int,
    second_size: int,
    first_root: bytes,
    second_root: bytes,
    proof: Sequence[bytes],
) -> bool:
    """Whether ``proof`` shows the tree (first_size, first_root) is a prefix of the second."""
    if not 0 < first_size <= second_size or not _all_hashes(first_root, second_root, *proof):
        return False
    if first_size == second_size:
        return not proof and first_root == second_root
    if not proof:
        return False
    path = list(proof)
    if first_size & (first_size - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first_size - 1, second_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_root and sr == second_root and sn == 0
