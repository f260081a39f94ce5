"""Ed25519-signed Merkle tree heads and the audit signing key on disk.

What is signed is the RFC 6962 section 3.5 ``TreeHeadSignature`` structure, 50 bytes:
``0x00`` (version v1) || ``0x01`` (signature type tree_hash) || timestamp as milliseconds since
the Unix epoch, uint64 big-endian || tree size, uint64 big-endian || the 32-byte SHA-256 root.
The key id is the lowercase hex SHA-256 of the public key's DER SubjectPublicKeyInfo (the
RFC 6962 log id). Signatures are standard base64 with padding.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from schemas.v1 import SignedTreeHead, TreeHeadView
from services.audit.merkle import HASH_SIZE
from services.common.keys import load_signing_key

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_UINT64 = 2**64 - 1


def timestamp_millis(timestamp: datetime) -> int:
    """Milliseconds since the Unix epoch, rounded down; the datetime must carry a timezone."""
    if timestamp.utcoffset() is None:
        raise ValueError("tree head timestamps need a timezone")
    return (timestamp - _EPOCH) // timedelta(milliseconds=1)


def tree_head_bytes(tree_size: int, root: bytes, timestamp_ms: int) -> bytes:
    """The exact bytes signed for a tree head (RFC 6962 TreeHeadSignature, 50 bytes)."""
    if len(root) != HASH_SIZE:
        raise ValueError("the root hash is 32 bytes")
    if not (0 <= tree_size <= _MAX_UINT64 and 0 <= timestamp_ms <= _MAX_UINT64):
        raise ValueError("tree size and timestamp must fit in unsigned 64-bit integers")
    return b"\x00\x01" + timestamp_ms.to_bytes(8, "big") + tree_size.to_bytes(8, "big") + root


def key_id(public_key: Ed25519PublicKey) -> str:
    """Hex SHA-256 of the public key's DER SubjectPublicKeyInfo."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def sign_tree_head(
    private_key: Ed25519PrivateKey, size: int, root: bytes, timestamp: datetime
) -> SignedTreeHead:
    """Sign a tree head; the timestamp is kept to the millisecond that is signed."""
    millis = timestamp_millis(timestamp)
    signature = private_key.sign(tree_head_bytes(size, root, millis))
    return SignedTreeHead(
        tree_size=size,
        root_hash=root.hex(),
        timestamp=_EPOCH + timedelta(milliseconds=millis),
        signature=base64.b64encode(signature).decode("ascii"),
        key_id=key_id(private_key.public_key()),
    )


def tree_head(
    size: int, root: bytes, *, signing_key: Ed25519PrivateKey | None, now: datetime
) -> TreeHeadView:
    """The head of a tree of ``size`` entries: signed when a key is given, else unsigned."""
    if signing_key is not None:
        return TreeHeadView(**sign_tree_head(signing_key, size, root, now).model_dump())
    return TreeHeadView(tree_size=size, root_hash=root.hex(), timestamp=now)


def verify_tree_head(public_key: Ed25519PublicKey, sth: SignedTreeHead) -> bool:
    """Whether this key signed exactly this tree size, root and timestamp."""
    if sth.key_id != key_id(public_key):
        return False
    try:
        signature = base64.b64decode(sth.signature, validate=True)
        signed = tree_head_bytes(
            sth.tree_size, bytes.fromhex(sth.root_hash), timestamp_millis(sth.timestamp)
        )
        public_key.verify(signature, signed)
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True


@dataclass(frozen=True)
class TreeSigner:
    """The audit service's tree-head key, if one is configured."""

    private_key: Ed25519PrivateKey | None = None

    @classmethod
    def from_path(cls, path: Path | None) -> TreeSigner:
        """The signer for the key at ``path``, or one that signs nothing."""
        return cls(load_signing_key(path) if path is not None else None)

    @property
    def public_key(self) -> Ed25519PublicKey | None:
        """The public half, derived from the private key."""
        return self.private_key.public_key() if self.private_key else None
