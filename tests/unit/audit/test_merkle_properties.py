"""Property tests for services.audit.merkle, checked against RFC 9162's recursive definitions."""

from __future__ import annotations

import hashlib
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.audit.merkle import (
    EMPTY_ROOT,
    MerkleAccumulator,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def reference_mth(d: list[bytes]) -> bytes:
    """MTH, transcribed from RFC 9162 2.1.1 (taking leaf hashes)."""
    if not d:
        return EMPTY_ROOT
    if len(d) == 1:
        return d[0]
    k = _k(len(d))
    return node_hash(reference_mth(d[:k]), reference_mth(d[k:]))


def reference_path(m: int, d: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]), transcribed from RFC 9162 2.1.3.1."""
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*reference_path(m, d[:k]), reference_mth(d[k:])]
    return [*reference_path(m - k, d[k:]), reference_mth(d[:k])]


def reference_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b), transcribed from RFC 9162 2.1.4.1."""
    if m == len(d):
        return [] if b else [reference_mth(d)]
    k = _k(len(d))
    if m <= k:
        return [*reference_subproof(m, d[:k], b), reference_mth(d[k:])]
    return [*reference_subproof(m - k, d[k:], False), reference_mth(d[:k])]


def leaves(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def flip(value: bytes, position: int) -> bytes:
    i = position % len(value)
    return value[:i] + bytes([value[i] ^ 0x01]) + value[i + 1 :]


@st.composite
def tree_and_index(draw: st.DrawFn) -> tuple[list[bytes], int]:
    size = draw(st.integers(min_value=1, max_value=70))
    return leaves(size), draw(st.integers(min_value=0, max_value=size - 1))


@st.composite
def tree_and_prefix(draw: st.DrawFn) -> tuple[list[bytes], int]:
    size = draw(st.integers(min_value=1, max_value=70))
    return leaves(size), draw(st.integers(min_value=1, max_value=size))


def test_root_and_accumulator_agree_with_rfc_definition_for_every_size_up_to_70() -> None:
    accumulator = MerkleAccumulator()
    all_leaves = leaves(71)
    for size in range(71):
        expected = reference_mth(all_leaves[:size])
        assert root_hash(all_leaves[:size]) == expected
        assert accumulator.root() == expected
        assert accumulator.size == size
        accumulator = accumulator.appended(all_leaves[size])


@given(st.lists(st.binary(min_size=32, max_size=32), max_size=70))
def test_accumulator_state_survives_a_round_trip(hashes: list[bytes]) -> None:
    accumulator = MerkleAccumulator().extended(hashes)
    restored = MerkleAccumulator.from_state(accumulator.to_state())
    assert restored == accumulator
    assert restored.appended(EMPTY_ROOT).root() == root_hash([*hashes, EMPTY_ROOT])


FIVE = MerkleAccumulator().extended(leaves(5)).hashes_hex()


@pytest.mark.parametrize(("size", "hashes"), [(4, FIVE), (5, FIVE[:1]), (-1, []), (1, ["00"])])
def test_accumulator_refuses_a_state_that_does_not_fit_its_size(
    size: int, hashes: list[str]
) -> None:
    with pytest.raises(ValueError, match="compact range"):
        MerkleAccumulator.from_hex(size, hashes)


@given(tree_and_index())
def test_every_inclusion_proof_is_the_rfc_path_and_verifies(case: tuple[list[bytes], int]) -> None:
    tree, index = case
    proof = inclusion_proof(index, tree)
    assert proof == reference_path(index, tree)
    assert verify_inclusion(tree[index], index, len(tree), proof, root_hash(tree))


@given(tree_and_index(), st.data())
def test_inclusion_fails_when_any_byte_changes(
    case: tuple[list[bytes], int], data: st.DataObject
) -> None:
    tree, index = case
    proof, root, leaf = inclusion_proof(index, tree), root_hash(tree), tree[index]
    spot = data.draw(st.integers(min_value=0, max_value=31))
    assert not verify_inclusion(flip(leaf, spot), index, len(tree), proof, root)
    assert not verify_inclusion(leaf, index, len(tree), proof, flip(root, spot))
    for i in range(len(proof)):
        changed = [*proof[:i], flip(proof[i], spot), *proof[i + 1 :]]
        assert not verify_inclusion(leaf, index, len(tree), changed, root)


@given(tree_and_prefix())
def test_every_consistency_proof_is_the_rfc_proof_and_verifies(
    case: tuple[list[bytes], int],
) -> None:
    tree, first = case
    proof = consistency_proof(first, tree)
    assert proof == reference_subproof(first, tree, True)
    assert verify_consistency(first, len(tree), root_hash(tree[:first]), root_hash(tree), proof)


@given(tree_and_prefix(), st.data())
def test_consistency_fails_when_any_byte_changes(
    case: tuple[list[bytes], int], data: st.DataObject
) -> None:
    tree, first = case
    proof, root1, root2 = consistency_proof(first, tree), root_hash(tree[:first]), root_hash(tree)
    spot = data.draw(st.integers(min_value=0, max_value=31))
    assert not verify_consistency(first, len(tree), flip(root1, spot), root2, proof)
    assert not verify_consistency(first, len(tree), root1, flip(root2, spot), proof)
    for i in range(len(proof)):
        changed = [*proof[:i], flip(proof[i], spot), *proof[i + 1 :]]
        assert not verify_consistency(first, len(tree), root1, root2, changed)


def test_a_few_hundred_thousand_leaves_hash_quickly() -> None:
    tree = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(300_000)]
    started = time.perf_counter()
    root = root_hash(tree)
    assert time.perf_counter() - started < 10
    assert root == MerkleAccumulator().extended(tree).root()
