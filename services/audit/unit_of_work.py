"""What audit's use cases need of the log: entries, the Merkle tree, the outbox, one commit."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas.v1 import AuditEvent, PolicyView, TreeHeadView
from services.audit.chain import ChainRow
from services.common.outbox import Outbox
from services.common.transaction import Transaction


@dataclass(frozen=True)
class Entry:
    """One audit entry as auditors read it."""

    seq: int
    content: dict[str, Any]
    recorded_at: datetime
    entry_hash: str


@dataclass(frozen=True)
class EntryFilters:
    """Which entries a query asks for; a filter left as None matches every entry."""

    concern_id: UUID | None = None
    actor: str | None = None
    agency: str | None = None
    action: str | None = None
    actions: tuple[str, ...] | None = None
    since: datetime | None = None
    until: datetime | None = None
    # An agency's auditor sees only the entries about that agency; None sees every entry.
    visible_to: str | None = None


class AuditEntries(Protocol):
    """The hash-chained entries: appended once each, never changed."""

    async def append(self, events: Sequence[AuditEvent]) -> int:
        """Chain the events not yet in the log after its last entry; the count appended."""

    async def find(
        self,
        filters: EntryFilters,
        *,
        limit: int,
        after_seq: int = 0,
        through_seq: int | None = None,
    ) -> list[Entry]:
        """Entries matching the filters, oldest first, after a sequence number."""

    async def last_seq(self) -> int:
        """The newest entry's sequence number; 0 when the log is empty."""

    def chain(self) -> AsyncIterator[ChainRow]:
        """Every entry in sequence order, as the chain verifier reads it."""

    async def content(self, *, seq: int) -> bytes | None:
        """The stored canonical content of one entry."""

    async def policy(self, version: str) -> PolicyView | None:
        """The partnership policy version on record under this name, with its text."""


class MerkleTree(Protocol):
    """The signed tree heads over the entries, and the leaves they cover."""

    async def add_head(
        self, *, signing_key: Ed25519PrivateKey | None, now: datetime
    ) -> TreeHeadView | None:
        """Extend the tree over entries not yet in a head and record (and sign) the new head."""

    async def latest_head(self) -> TreeHeadView | None:
        """The newest tree head, if any."""

    async def find_head(self, *, tree_size: int) -> TreeHeadView | None:
        """The tree head of exactly this size, if one was recorded."""

    async def heads(self) -> list[TreeHeadView]:
        """Every recorded tree head, smallest first."""

    async def leaf_hashes(self, *, tree_size: int) -> Sequence[bytes]:
        """The leaf hashes of entries 1..tree_size, in order."""


class AuditUnitOfWork(Transaction, Protocol):
    """One transaction over the log; `async with` it again for the next one."""

    @property
    def entries(self) -> AuditEntries:
        """The entries, inside this transaction."""

    @property
    def tree(self) -> MerkleTree:
        """The tree heads, inside this transaction."""

    @property
    def outbox(self) -> Outbox:
        """Events published once this transaction commits."""
