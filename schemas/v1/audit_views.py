"""What the audit service answers auditors: entries, trails, accesses, tree heads and proofs."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from schemas.v1.audit import Actor, AuditAction

_MAX_UINT64 = 2**64 - 1


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class ExportFormat(StrEnum):
    """How an export is written."""

    CSV = "csv"
    JSON = "json"


class AuditEntryContent(_View):
    """The fields of an audit entry that the chain seals, read from the entry's JSON."""

    event_id: UUID = Field(description="The audit event's id; the log holds each one once.")
    type: str = Field(description="The event type, audit.event.")
    producer: str = Field(description="The service that published the event.")
    correlation_id: str = Field(description="The request or event that caused it.")
    occurred_at: datetime = Field(description="When it happened (UTC).")
    action: AuditAction
    actor: Actor
    concern_id: UUID | None = None
    notification_id: UUID | None = None
    fields: list[str] = Field(default_factory=list, description="Names of the fields disclosed.")
    details: dict[str, JsonValue] = Field(
        default_factory=dict, description="Context without personal data."
    )


class AuditEntryView(_View):
    """One audit entry."""

    seq: int = Field(description="The entry's place in the chain, from 1.")
    recorded_at: datetime = Field(description="When the log appended it.")
    entry_hash: str = Field(description="The entry's chain hash, hex.")
    # The sealed object exactly as hashed (canonical key order, canonical times), so that an
    # auditor can recompute the chain from it; content() reads it typed.
    entry: dict[str, JsonValue] = Field(description="The sealed fields, as the chain hashed them.")

    def content(self) -> AuditEntryContent:
        """The sealed fields, typed."""
        return AuditEntryContent.model_validate(self.entry)


class AuditPage(_View):
    """A page of audit entries, oldest first."""

    items: list[AuditEntryView]
    next_cursor: str | None = None


class TrailStep(_View):
    """One step of a concern's trail: who did what to which notification, seeing which fields."""

    seq: int
    when: datetime = Field(description="When it happened (the entry's occurred_at).")
    who: Actor
    action: AuditAction
    notification_id: UUID | None = None
    recipient_agency: str | None = Field(
        default=None, description="The agency a notification went to, when the entry names one."
    )
    fields: list[str] = Field(default_factory=list, description="Names of the fields disclosed.")


class ConcernTrail(AuditPage):
    """Everything recorded about one concern: the raw entries and a readable summary."""

    summary: list[TrailStep]


class PersonAccess(_View):
    """One thing a person saw, acknowledged, was refused, or submitted."""

    seq: int
    when: datetime
    action: AuditAction
    agency: str | None = Field(description="The agency the person acted for.")
    role: str
    concern_id: UUID | None = None
    notification_id: UUID | None = None
    fields: list[str] = Field(default_factory=list, description="Names of the fields disclosed.")
    details: dict[str, JsonValue] = Field(default_factory=dict)


class PersonAccessPage(_View):
    """A person's access history, oldest first."""

    subject: str
    items: list[PersonAccess]
    next_cursor: str | None = None


class SignedTreeHead(_View):
    """A tree size and root the audit service vouches for, with when and by which key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tree_size: int = Field(ge=0, le=_MAX_UINT64, description="Number of entries in the tree.")
    root_hash: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="RFC 9162 Merkle root, lowercase hex."
    )
    timestamp: datetime = Field(
        description="When the head was signed (UTC, millisecond precision)."
    )
    signature: str = Field(description="Ed25519 signature of the TreeHeadSignature bytes, base64.")
    key_id: str = Field(description="Hex SHA-256 of the signing key's DER SubjectPublicKeyInfo.")


class TreeHeadView(_View):
    """A tree head as the audit service recorded it; unsigned when no key is configured."""

    tree_size: int = Field(ge=0, description="Number of entries in the tree.")
    root_hash: str = Field(description="RFC 9162 Merkle root, lowercase hex.")
    timestamp: datetime = Field(description="When the head was made (UTC).")
    signature: str | None = Field(default=None, description="Ed25519 signature, base64.")
    key_id: str | None = Field(default=None, description="Hex SHA-256 of the signing key's SPKI.")

    def signed(self) -> SignedTreeHead | None:
        """This head as a signed tree head, or None if it carries no signature."""
        if self.signature is None or self.key_id is None:
            return None
        return SignedTreeHead.model_validate(self.model_dump())


class InclusionProof(_View):
    """An entry, its leaf hash and the audit path proving it is in the tree of a head."""

    seq: int = Field(description="The entry's sequence number (leaf index + 1).")
    leaf_index: int = Field(description="Zero-based index of the entry in the Merkle tree.")
    content: str = Field(description="The entry's canonical JSON, exactly as hashed.")
    leaf_hash: str = Field(description="RFC 9162 leaf hash of the content, hex.")
    audit_path: list[str] = Field(description="Sibling hashes, deepest first, hex.")
    tree_head: TreeHeadView


class ConsistencyProof(_View):
    """Proof that the tree of the first head is a prefix of the tree of the second."""

    first: TreeHeadView
    second: TreeHeadView
    proof: list[str] = Field(description="RFC 9162 consistency proof hashes, hex.")


class Verification(_View):
    """Whether the chain and the Merkle tree recompute; if not, where they first differ."""

    ok: bool
    entries: int = Field(description="Entries whose chain link checked out.")
    head_hash: str = Field(description="Entry hash of the last entry that checked out, hex.")
    tree_size: int = 0
    root_hash: str | None = None
    latest_tree_head: TreeHeadView | None = None
    first_bad_seq: int | None = Field(default=None, description="The first entry not vouched for.")
    fault: str | None = Field(default=None, description="Why verification stopped there.")
    detail: str | None = None


class PolicyView(_View):
    """A partnership policy version as audit holds it: the rules in force from a moment on."""

    version: str = Field(description="The file's policy_version.")
    sha256: str = Field(description="Hex SHA-256 of the file's UTF-8 text.")
    content: str = Field(description="The partnership file (YAML) exactly as it came into force.")
    came_into_force_at: datetime = Field(description="When it first came into force (UTC).")
