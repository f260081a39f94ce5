"""An in-memory audit log for service-layer tests: entries, tree heads and an outbox in one."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas.v1 import AuditEvent, PolicyView, TreeHeadView
from services.audit.chain import GENESIS, ChainRow, by_event_id, seal_new
from services.audit.merkle import MerkleAccumulator
from services.audit.store_policies import set_policy_text_aside
from services.audit.store_scope import (
    CONCERN_LEVEL,
    PARTNERSHIP_LEVEL,
    concern_source,
    notification_recipient,
)
from services.audit.tree_head import tree_head
from services.audit.unit_of_work import Entry, EntryFilters
from tests.unit.fakes import FakeOutbox

RECORDED = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class StoredEntry:
    """One row of the fake log, with the columns the real one filters on."""

    row: ChainRow
    event: AuditEvent
    recorded_at: datetime

    def entry(self) -> Entry:
        return Entry(
            seq=self.row.seq,
            content=json.loads(self.row.content),
            recorded_at=self.recorded_at,
            entry_hash=self.row.entry_hash.hex(),
        )

    def matches(self, filters: EntryFilters) -> bool:
        p, when = self.event.payload, self.event.occurred_at
        wanted = (
            (filters.concern_id, p.concern_id),
            (filters.actor, p.actor.subject),
            (filters.agency, p.actor.agency),
            (filters.action, p.action.value),
        )
        return (
            all(want is None or want == got for want, got in wanted)
            and (filters.actions is None or p.action.value in filters.actions)
            and (filters.since is None or when >= filters.since)
            and (filters.until is None or when < filters.until)
        )


class FakeAuditEntries:
    """Entries kept in a list; what a transaction appends is seen by it, kept on commit."""

    def __init__(self) -> None:
        self.stored: list[StoredEntry] = []
        self.pending: list[StoredEntry] = []
        self.policies: dict[str, PolicyView] = {}

    def agencies(self) -> tuple[dict[object, object], dict[object, tuple[object, object]]]:
        """Concern -> source agency, notification -> (concern, recipient agency), as indexed."""
        sources: dict[object, object] = {}
        recipients: dict[object, tuple[object, object]] = {}
        for stored in self.visible():
            if (row := concern_source(stored.event)) is not None:
                sources.setdefault(row["concern_id"], row["source_agency"])
            if (row := notification_recipient(stored.event)) is not None:
                recipients.setdefault(
                    row["notification_id"], (row["concern_id"], row["recipient_agency"])
                )
        return sources, recipients

    def seen_by(self, stored: StoredEntry, agency: str | None) -> bool:
        """Whether an agency's auditor may see the entry (as store_scope.visible_to says)."""
        if agency is None:
            return True
        p = stored.event.payload
        sources, recipients = self.agencies()
        received = {concern for concern, to in recipients.values() if to == agency}
        return (
            p.actor.agency == agency
            or p.action.value in PARTNERSHIP_LEVEL
            or (p.concern_id is not None and sources.get(p.concern_id) == agency)
            or (p.notification_id in recipients and recipients[p.notification_id][1] == agency)
            or (
                p.notification_id is None
                and p.action.value in CONCERN_LEVEL
                and p.concern_id in received
            )
        )

    def visible(self) -> list[StoredEntry]:
        return self.stored + self.pending

    async def policy(self, version: str) -> PolicyView | None:
        return self.policies.get(version)

    async def append(self, events: Sequence[AuditEvent]) -> int:
        events, applied = set_policy_text_aside(events)
        for policy in applied:
            self.policies.setdefault(
                policy.version,
                PolicyView(
                    version=policy.version,
                    sha256=policy.sha256,
                    content=policy.content,
                    came_into_force_at=policy.came_into_force_at,
                ),
            )
        visible = self.visible()
        present = {stored.event.event_id for stored in visible}
        last_seq, last_hash = (
            (visible[-1].row.seq, visible[-1].row.entry_hash) if visible else (0, GENESIS)
        )
        wanted = by_event_id(events)
        fresh = list(seal_new(wanted, present=present, last_seq=last_seq, last_hash=last_hash))
        self.pending += [StoredEntry(row, event, RECORDED) for event, row in fresh]
        return len(fresh)

    async def find(
        self,
        filters: EntryFilters,
        *,
        limit: int,
        after_seq: int = 0,
        through_seq: int | None = None,
    ) -> list[Entry]:
        found = [
            stored.entry()
            for stored in self.visible()
            if stored.row.seq > after_seq
            and (through_seq is None or stored.row.seq <= through_seq)
            and stored.matches(filters)
            and self.seen_by(stored, filters.visible_to)
        ]
        return found[:limit]

    async def last_seq(self) -> int:
        visible = self.visible()
        return visible[-1].row.seq if visible else 0

    async def chain(self) -> AsyncIterator[ChainRow]:
        for stored in self.visible():
            yield stored.row

    async def content(self, *, seq: int) -> bytes | None:
        found = [s.row.content for s in self.visible() if s.row.seq == seq]
        return found[0] if found else None

    def tamper(self, seq: int, content: bytes) -> None:
        """Change a committed entry behind the log's back, as only a superuser could."""
        index = seq - 1
        self.stored[index] = replace(
            self.stored[index], row=replace(self.stored[index].row, content=content)
        )


class FakeMerkleTree:
    """Tree heads over the fake entries, grown exactly as the real store grows them."""

    def __init__(self, entries: FakeAuditEntries) -> None:
        self._entries = entries
        self.stored: list[tuple[TreeHeadView, MerkleAccumulator]] = []
        self.pending: list[tuple[TreeHeadView, MerkleAccumulator]] = []

    async def add_head(
        self, *, signing_key: Ed25519PrivateKey | None, now: datetime
    ) -> TreeHeadView | None:
        recorded = self.stored + self.pending
        accumulator = recorded[-1][1] if recorded else MerkleAccumulator()
        leaves = [s.row.leaf_hash for s in self._entries.visible()[accumulator.size :]]
        if not leaves:
            return None
        grown = accumulator.extended(leaves)
        head = tree_head(grown.size, grown.root(), signing_key=signing_key, now=now)
        self.pending.append((head, grown))
        return head

    async def latest_head(self) -> TreeHeadView | None:
        heads = await self.heads()
        return heads[-1] if heads else None

    async def find_head(self, *, tree_size: int) -> TreeHeadView | None:
        found = [head for head in await self.heads() if head.tree_size == tree_size]
        return found[0] if found else None

    async def heads(self) -> list[TreeHeadView]:
        return [head for head, _ in self.stored + self.pending]

    async def leaf_hashes(self, *, tree_size: int) -> Sequence[bytes]:
        return [s.row.leaf_hash for s in self._entries.visible()[:tree_size]]


class FakeAuditUnitOfWork:
    """One fake log; each `async with` is a transaction, rolled back unless committed."""

    def __init__(self) -> None:
        self.entries = FakeAuditEntries()
        self.tree = FakeMerkleTree(self.entries)
        self.outbox = FakeOutbox()
        self.commits = 0

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.entries.pending, self.tree.pending = [], []
        self.outbox.rollback()

    async def commit(self) -> None:
        self.entries.stored += self.entries.pending
        self.tree.stored += self.tree.pending
        self.entries.pending, self.tree.pending = [], []
        self.outbox.commit()
        self.commits += 1
