"""`safeguard audit check-proof`: proofs saved to files, checked with only the public key."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from deploy.cli_audit import register
from schemas.v1 import ConsistencyProof, InclusionProof, TreeHeadView
from services.audit.merkle import consistency_proof, inclusion_proof, leaf_hash, root_hash
from services.audit.tree_head import sign_tree_head

NOW = datetime(2026, 1, 2, tzinfo=UTC)
CONTENTS = [f'{{"n":{n}}}' for n in range(6)]
LEAVES = [leaf_hash(content.encode()) for content in CONTENTS]


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def write_key(tmp_path: Path, key: Ed25519PrivateKey) -> Path:
    path = tmp_path / "audit-tree-head.pub"
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def head(key: Ed25519PrivateKey, size: int) -> TreeHeadView:
    return TreeHeadView(**sign_tree_head(key, size, root_hash(LEAVES[:size]), NOW).model_dump())


def test_check_proof_accepts_good_proofs_and_refuses_changed_ones(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    public = write_key(tmp_path, key)
    inclusion = InclusionProof(
        seq=3,
        leaf_index=2,
        content=CONTENTS[2],
        leaf_hash=LEAVES[2].hex(),
        audit_path=[h.hex() for h in inclusion_proof(2, LEAVES)],
        tree_head=head(key, 6),
    )
    consistency = ConsistencyProof(
        first=head(key, 2),
        second=head(key, 6),
        proof=[h.hex() for h in consistency_proof(2, LEAVES)],
    )
    for name, proof in (("inclusion", inclusion), ("consistency", consistency)):
        good = tmp_path / f"{name}.json"
        good.write_text(proof.model_dump_json())
        assert run("audit", "check-proof", str(good), "--public-key", str(public)) == 0
        document = json.loads(good.read_text())
        document["second" if name == "consistency" else "tree_head"]["tree_size"] += 1
        bad = tmp_path / f"{name}-bad.json"
        bad.write_text(json.dumps(document))
        assert run("audit", "check-proof", str(bad), "--public-key", str(public)) == 1
    (tmp_path / "other").mkdir()
    other = write_key(tmp_path / "other", Ed25519PrivateKey.generate())
    good = tmp_path / "inclusion.json"
    assert run("audit", "check-proof", str(good), "--public-key", str(other)) == 1
