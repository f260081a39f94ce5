"""Ed25519 key files: private halves created 0600 and whole, public halves beside them."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def public_key_path(private_key_path: Path) -> Path:
    """Where the PEM public key sits: ``token-signing.pem`` -> ``token-signing.pub``."""
    return private_key_path.with_suffix(".pub")


def _write_new(path: Path, content: bytes, mode: int) -> None:
    """Write a file that did not exist, created with ``mode`` so it is never wider."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, content)
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_public_key(private_key: Ed25519PrivateKey, path: Path) -> None:
    pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    target = public_key_path(path)
    staging = target.with_name(f".{target.name}.{secrets.token_hex(8)}")
    _write_new(staging, pem, 0o644)
    os.replace(staging, target)


def load_or_create_signing_key(path: Path) -> Ed25519PrivateKey:
    """Load the Ed25519 key at ``path``, or create it (mode 0600) and its ``.pub`` beside it."""
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        # Write aside then hard-link into place: the key appears whole or not at all, and a
        # process racing us to create it keeps whichever key linked first.
        staging = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        _write_new(staging, pem, 0o600)
        try:
            os.link(staging, path)
        except FileExistsError:
            pass
        finally:
            staging.unlink()
    key = _read_private_key(path)
    if not public_key_path(path).exists():
        _write_public_key(key, path)
    return key


def _read_private_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise TypeError(f"{path} does not hold an Ed25519 private key")
    return key


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    """The key at ``path`` whichever helper wrote it; only created (with ``.pub``) if absent.

    An existing key is read and nothing is written beside it: its public half is derived from it,
    so it does not matter whether its ``.pub`` sits at ``name.pub`` or ``name.pem.pub``.
    """
    if path.exists():
        return _read_private_key(path)
    return load_or_create_signing_key(path)
