"""services.audit.merkle against published RFC 6962 test vectors.

Sources (transparency-dev/merkle, the Go library behind Trillian and Tessera):
- LEAF_INPUTS, LEAF_HASHES (NodeHashes level 0), ROOTS (RootHashes) and COMPACT_RANGES
  (CompactTrees): testonly/constants.go at commit 417fb0c314750d94e53942e9f92e79b6d35915db.
- INCLUSION_PROOFS, CONSISTENCY_PROOFS and the corruptions in `_corrupted_inclusions` /
  `_corrupted_consistencies` (corruptInclusionProof / corruptConsistencyProof):
  proof/verify_test.go at commit 022f84c. Its leaf numbers are 1-based; here they are 0-based
  indexes. The same proofs appear as JSON in testdata/inclusion/*/happy-path.json and
  testdata/consistency/*/happy-path.json at 417fb0c.
"""

from __future__ import annotations

import pytest

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

h = bytes.fromhex

LEAF_INPUTS = [
    h(""),
    h("00"),
    h("10"),
    h("2021"),
    h("3031"),
    h("40414243"),
    h("5051525354555657"),
    h("606162636465666768696a6b6c6d6e6f"),
]

LEAF_HASHES = [
    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
    h("0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"),
    h("07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7"),
    h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
    h("4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658"),
    h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
    h("46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"),
]

# Level 1 and 2 node hashes (NodeHashes), used by COMPACT_RANGES.
L1 = [
    h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
    h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
    h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
]
L2 = [
    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
]
L3 = [h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")]

# ROOTS[n] is the root of the tree of the first n leaves.
ROOTS = [
    h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]

# COMPACT_RANGES[n]: the perfect-subtree roots of the first n leaves (CompactTrees).
COMPACT_RANGES = [
    [],
    [LEAF_HASHES[0]],
    [L1[0]],
    [L1[0], LEAF_HASHES[2]],
    [L2[0]],
    [L2[0], LEAF_HASHES[4]],
    [L2[0], L1[2]],
    [L2[0], L1[2], LEAF_HASHES[6]],
    [L3[0]],
]

# (leaf index, tree size, proof)
INCLUSION_PROOFS = [
    (0, 1, []),
    (
        0,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        5,
        8,
        [
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (2, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (
        1,
        5,
        [
            h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
]

# (first size, second size, proof)
CONSISTENCY_PROOFS = [
    (1, 1, []),
    (
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (
        2,
        5,
        [
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        6,
        7,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]

SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    assert root_hash([]) == EMPTY_ROOT == ROOTS[0]


@pytest.mark.parametrize(("data", "expected"), list(zip(LEAF_INPUTS, LEAF_HASHES, strict=True)))
def test_leaf_hash_matches_published_vector(data: bytes, expected: bytes) -> None:
    assert leaf_hash(data) == expected


def test_node_hash_of_first_two_leaves_matches_published_vector() -> None:
    assert node_hash(LEAF_HASHES[0], LEAF_HASHES[1]) == L1[0]


@pytest.mark.parametrize("size", range(9))
def test_root_matches_published_vector_for_every_size(size: int) -> None:
    assert root_hash(LEAF_HASHES[:size]) == ROOTS[size]


@pytest.mark.parametrize("size", range(9))
def test_accumulator_holds_the_published_compact_range(size: int) -> None:
    accumulator = MerkleAccumulator().extended(LEAF_HASHES[:size])
    assert list(accumulator.hashes) == COMPACT_RANGES[size]
    assert accumulator.root() == ROOTS[size]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_PROOFS)
def test_inclusion_proof_matches_published_vector(
    index: int, size: int, proof: list[bytes]
) -> None:
    assert inclusion_proof(index, LEAF_HASHES[:size]) == proof
    assert verify_inclusion(LEAF_HASHES[index], index, size, proof, ROOTS[size])


@pytest.mark.parametrize(("first", "second", "proof"), CONSISTENCY_PROOFS)
def test_consistency_proof_matches_published_vector(
    first: int, second: int, proof: list[bytes]
) -> None:
    assert consistency_proof(first, LEAF_HASHES[:second]) == proof
    assert verify_consistency(first, second, ROOTS[first], ROOTS[second], proof)


def _corrupted_inclusions(
    index: int, size: int, proof: list[bytes], root: bytes, leaf: bytes
) -> list[tuple[str, int, int, list[bytes], bytes, bytes]]:
    probes = [
        ("index - 1", index - 1, size, proof, root, leaf),
        ("index + 1", index + 1, size, proof, root, leaf),
        ("index ^ 2", index ^ 2, size, proof, root, leaf),
        ("size * 2", index, size * 2, proof, root, leaf),
        ("size // 2", index, size // 2, proof, root, leaf),
        ("wrong leaf", index, size, proof, root, b"WrongLeaf"),
        ("empty root", index, size, proof, EMPTY_ROOT, leaf),
        ("random root", index, size, proof, SOME_HASH, leaf),
        ("trailing garbage", index, size, [*proof, b""], root, leaf),
        ("trailing root", index, size, [*proof, root], root, leaf),
        ("preceding garbage", index, size, [b"", *proof], root, leaf),
        ("preceding root", index, size, [root, *proof], root, leaf),
    ]
    for i in range(len(proof)):
        flipped = [*proof]
        flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
        probes.append((f"proof[{i}] bit 3", index, size, flipped, root, leaf))
    if proof:
        probes.append(("removed component", index, size, proof[:-1], root, leaf))
    if len(proof) > 1:
        probes.append(
            ("inserted component", index, size, [proof[0], SOME_HASH, *proof[1:]], root, leaf)
        )
    return probes


def _corrupted_consistencies(
    first: int, second: int, root1: bytes, root2: bytes, proof: list[bytes]
) -> list[tuple[str, int, int, bytes, bytes, list[bytes]]]:
    probes = [
        ("first - 1", first - 1, second, root1, root2, proof),
        ("first + 1", first + 1, second, root1, root2, proof),
        ("first ^ 2", first ^ 2, second, root1, root2, proof),
        ("second * 2", first, second * 2, root1, root2, proof),
        ("second // 2", first, second // 2, root1, root2, proof),
        ("wrong root1", first, second, b"WrongRoot", root2, proof),
        ("wrong root2", first, second, root1, b"WrongRoot", proof),
        ("swapped roots", first, second, root2, root1, proof),
        ("empty proof", first, second, root1, root2, []),
        ("trailing garbage", first, second, root1, root2, [*proof, b""]),
        ("trailing root1", first, second, root1, root2, [*proof, root1]),
        ("trailing root2", first, second, root1, root2, [*proof, root2]),
        ("preceding garbage", first, second, root1, root2, [b"", *proof]),
        ("preceding root1", first, second, root1, root2, [root1, *proof]),
        ("preceding root2", first, second, root1, root2, [root2, *proof]),
        ("preceding proof[0]", first, second, root1, root2, [proof[0], *proof]),
        ("truncated proof", first, second, root1, root2, proof[:-1]),
    ]
    for i in range(len(proof)):
        flipped = [*proof]
        flipped[i] = bytes([flipped[i][0] ^ 16]) + flipped[i][1:]
        probes.append((f"proof[{i}] bit 4", first, second, root1, root2, flipped))
    return probes


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_PROOFS[1:])
def test_corrupted_inclusion_proofs_from_the_reference_suite_fail(
    index: int, size: int, proof: list[bytes]
) -> None:
    probes = _corrupted_inclusions(index, size, proof, ROOTS[size], LEAF_HASHES[index])
    accepted = [p[0] for p in probes if verify_inclusion(p[5], p[1], p[2], p[3], p[4])]
    assert accepted == []


@pytest.mark.parametrize(("first", "second", "proof"), CONSISTENCY_PROOFS[1:])
def test_corrupted_consistency_proofs_from_the_reference_suite_fail(
    first: int, second: int, proof: list[bytes]
) -> None:
    probes = _corrupted_consistencies(first, second, ROOTS[first], ROOTS[second], proof)
    accepted = [p[0] for p in probes if verify_consistency(p[1], p[2], p[3], p[4], p[5])]
    assert accepted == []


@pytest.mark.parametrize(("index", "size"), [(0, 0), (0, 1), (1, 0), (2, 1)])
def test_inclusion_in_impossible_positions_fails(index: int, size: int) -> None:
    assert not verify_inclusion(SOME_HASH, index, size, [], b"")
    assert not verify_inclusion(b"", index, size, [], EMPTY_ROOT)
    assert not verify_inclusion(SOME_HASH, index, size, [], EMPTY_ROOT)


@pytest.mark.parametrize(
    ("first", "second", "root1", "root2", "proof"),
    [
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, []),  # from an empty tree proves nothing (as upstream)
        (0, 1, EMPTY_ROOT, ROOTS[1], []),
        (1, 0, ROOTS[1], EMPTY_ROOT, []),
        (2, 1, ROOTS[2], ROOTS[1], []),
        (1, 2, ROOTS[1], ROOTS[2], []),
        (1, 1, EMPTY_ROOT, ROOTS[1], []),
        (1, 1, ROOTS[1], ROOTS[1], [EMPTY_ROOT]),
    ],
)
def test_impossible_consistency_claims_fail(
    first: int, second: int, root1: bytes, root2: bytes, proof: list[bytes]
) -> None:
    assert not verify_consistency(first, second, root1, root2, proof)


def test_proofs_refuse_positions_outside_the_tree() -> None:
    with pytest.raises(ValueError, match="outside"):
        inclusion_proof(8, LEAF_HASHES)
    with pytest.raises(ValueError, match="first size"):
        consistency_proof(0, LEAF_HASHES)
    with pytest.raises(ValueError, match="first size"):
        consistency_proof(9, LEAF_HASHES)
