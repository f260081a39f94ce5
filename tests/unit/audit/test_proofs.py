"""Recomputing the tree against recorded heads, and checking proof documents offline."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas.v1 import ConsistencyProof, InclusionProof, TreeHeadView
from services.audit.merkle import consistency_proof, inclusion_proof, leaf_hash, root_hash
from services.audit.proofs import check_consistency, check_inclusion, check_tree
from services.audit.tree_head import sign_tree_head

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
CONTENTS = [f'{{"n":{n}}}'.encode() for n in range(1, 12)]
LEAVES = [leaf_hash(content) for content in CONTENTS]


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def head(key: Ed25519PrivateKey | None, size: int, leaves: list[bytes] = LEAVES) -> TreeHeadView:
    root = root_hash(leaves[:size])
    if key is None:
        return TreeHeadView(tree_size=size, root_hash=root.hex(), timestamp=NOW)
    return TreeHeadView(**sign_tree_head(key, size, root, NOW).model_dump())


def test_heads_that_match_the_leaves_check_out(key: Ed25519PrivateKey) -> None:
    verdict = check_tree(LEAVES, [head(key, 3), head(key, 7), head(key, 11)], key.public_key())
    assert verdict.ok
    assert verdict.tree_size == 11
    assert verdict.root_hash == root_hash(LEAVES)


def test_unsigned_heads_check_out_when_no_key_is_configured() -> None:
    assert check_tree(LEAVES, [head(None, 4)], None).ok


def test_unsigned_head_fails_when_a_key_is_expected(key: Ed25519PrivateKey) -> None:
    verdict = check_tree(LEAVES, [head(None, 4)], key.public_key())
    assert not verdict.ok
    assert verdict.first_bad_seq == 1


def test_a_rewritten_leaf_is_located_after_the_last_good_head(key: Ed25519PrivateKey) -> None:
    rewritten = list(LEAVES)
    rewritten[5] = leaf_hash(b"changed")  # seq 6
    verdict = check_tree(rewritten, [head(key, 3), head(key, 7), head(key, 11)], key.public_key())
    assert not verdict.ok
    assert verdict.first_bad_seq == 4


def test_a_head_beyond_the_last_entry_fails(key: Ed25519PrivateKey) -> None:
    verdict = check_tree(LEAVES[:5], [head(key, 3), head(key, 7)], key.public_key())
    assert not verdict.ok
    assert verdict.first_bad_seq == 4


def test_a_head_signed_by_another_key_fails(key: Ed25519PrivateKey) -> None:
    other = Ed25519PrivateKey.generate()
    assert not check_tree(LEAVES, [head(other, 5)], key.public_key()).ok


def test_inclusion_and_consistency_documents_check_offline(key: Ed25519PrivateKey) -> None:
    signed = head(key, 11)
    for index in range(11):
        proof = InclusionProof(
            seq=index + 1,
            leaf_index=index,
            content=CONTENTS[index].decode(),
            leaf_hash=LEAVES[index].hex(),
            audit_path=[h.hex() for h in inclusion_proof(index, LEAVES)],
            tree_head=signed,
        )
        assert check_inclusion(proof, key.public_key()) is None
        assert check_inclusion(proof.model_copy(update={"content": "{}"}), key.public_key())
    for first in range(1, 11):
        consistency = ConsistencyProof(
            first=head(key, first),
            second=signed,
            proof=[h.hex() for h in consistency_proof(first, LEAVES)],
        )
        assert check_consistency(consistency, key.public_key()) is None
        wrong = consistency.model_copy(update={"first": head(key, first, LEAVES[::-1])})
        assert check_consistency(wrong, key.public_key())


def test_a_malformed_head_is_a_failure_not_an_error(key: Ed25519PrivateKey) -> None:
    bad = head(key, 3).model_copy(update={"root_hash": "not hex"})
    assert check_tree(LEAVES, [bad], key.public_key()).ok is False
