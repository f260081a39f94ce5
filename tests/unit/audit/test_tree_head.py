"""services.audit.tree_head: signed tree heads and the signing key on disk."""

from __future__ import annotations

import base64
import os
import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from schemas.v1 import SignedTreeHead
from services.audit.merkle import leaf_hash, root_hash
from services.audit.tree_head import (
    key_id,
    sign_tree_head,
    tree_head_bytes,
    verify_tree_head,
)
from services.common.keys import load_or_create_signing_key, public_key_path

ROOT = root_hash([leaf_hash(b"a"), leaf_hash(b"b"), leaf_hash(b"c")])
SIGNED_AT = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)


@pytest.fixture
def private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def test_signed_bytes_are_the_rfc_6962_tree_head_signature_layout() -> None:
    signed = tree_head_bytes(3, ROOT, 1_714_979_289_123)
    assert len(signed) == 50
    assert signed[:2] == b"\x00\x01"
    assert signed[2:10] == (1_714_979_289_123).to_bytes(8, "big")
    assert signed[10:18] == (3).to_bytes(8, "big")
    assert signed[18:] == ROOT


def test_signed_tree_head_verifies_and_keeps_the_signed_millisecond(
    private_key: Ed25519PrivateKey,
) -> None:
    sth = sign_tree_head(private_key, 3, ROOT, SIGNED_AT)
    assert verify_tree_head(private_key.public_key(), sth)
    assert sth.timestamp == SIGNED_AT.replace(microsecond=123000)
    assert sth.root_hash == ROOT.hex()
    assert sth.key_id == key_id(private_key.public_key())
    signed = tree_head_bytes(3, ROOT, 1_714_979_289_123)
    private_key.public_key().verify(base64.b64decode(sth.signature), signed)


def test_signed_tree_head_survives_json(private_key: Ed25519PrivateKey) -> None:
    sth = sign_tree_head(private_key, 3, ROOT, SIGNED_AT)
    assert verify_tree_head(
        private_key.public_key(), SignedTreeHead.model_validate_json(sth.model_dump_json())
    )


def test_timestamp_in_another_zone_signs_the_same_instant(private_key: Ed25519PrivateKey) -> None:
    elsewhere = SIGNED_AT.astimezone(timezone(timedelta(hours=-5)))
    assert (
        sign_tree_head(private_key, 3, ROOT, elsewhere).signature
        == sign_tree_head(private_key, 3, ROOT, SIGNED_AT).signature
    )


@pytest.mark.parametrize(
    "change",
    [
        {"tree_size": 4},
        {"tree_size": 2},
        {"root_hash": root_hash([leaf_hash(b"a")]).hex()},
        {"timestamp": SIGNED_AT + timedelta(seconds=1)},
        {"signature": base64.b64encode(bytes(64)).decode()},
        {"signature": "not base64!"},
        {"key_id": "0" * 64},
    ],
)
def test_tampered_tree_head_fails(
    private_key: Ed25519PrivateKey, change: dict[str, object]
) -> None:
    sth = sign_tree_head(private_key, 3, ROOT, SIGNED_AT)
    assert not verify_tree_head(private_key.public_key(), sth.model_copy(update=change))


def test_tree_head_from_another_key_fails(private_key: Ed25519PrivateKey) -> None:
    sth = sign_tree_head(private_key, 3, ROOT, SIGNED_AT)
    assert not verify_tree_head(Ed25519PrivateKey.generate().public_key(), sth)


def test_naive_timestamp_is_refused(private_key: Ed25519PrivateKey) -> None:
    with pytest.raises(ValueError, match="timezone"):
        sign_tree_head(private_key, 3, ROOT, SIGNED_AT.replace(tzinfo=None))


def test_new_signing_key_is_owner_only_with_public_key_beside_it(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "audit-signing.pem"
    key = load_or_create_signing_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    public = serialization.load_pem_public_key(public_key_path(path).read_bytes())
    assert isinstance(public, Ed25519PublicKey)
    assert key_id(public) == key_id(key.public_key())
    assert public_key_path(path) == tmp_path / "keys" / "audit-signing.pub"
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "audit-signing.pem",
        "audit-signing.pub",
    ]


def test_key_file_is_owner_only_even_under_a_permissive_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        path = tmp_path / "audit-signing.pem"
        load_or_create_signing_key(path)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_existing_signing_key_is_loaded_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "audit-signing.pem"
    first = load_or_create_signing_key(path)
    public_key_path(path).unlink()
    again = load_or_create_signing_key(path)
    assert key_id(again.public_key()) == key_id(first.public_key())
    assert public_key_path(path).exists()


def test_a_file_holding_another_kind_of_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "audit-signing.pem"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(TypeError, match="Ed25519"):
        load_or_create_signing_key(path)
