"""The audit unit of work over SQLAlchemy: today's store functions in one session's transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from types import TracebackType
from typing import Self

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.v1 import AuditEvent, PolicyView, TreeHeadView
from services.audit import store, store_policies, store_scope, store_tree
from services.audit.chain import ChainRow
from services.audit.unit_of_work import Entry, EntryFilters
from services.common.db import UnitOfWork
from services.common.outbox import SessionOutbox
from services.common.runtime import ServiceRuntime


class SessionAuditEntries:
    """The entries table, in one session's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self.appended: store.Appended | None = None

    async def append(self, events: Sequence[AuditEvent]) -> int:
        """Chain the events not yet in the log after its last entry (by COPY); the count."""
        chained, applied = store_policies.set_policy_text_aside(events)
        refused = await store_policies.record_policies(self._session, applied)
        chained = store_policies.mark_refused(chained, refused)
        self.appended = await store.append_events(self._session, chained)
        await store_scope.index_agencies(self._session, chained)
        return len(self.appended.leaves) if self.appended else 0

    async def policy(self, version: str) -> PolicyView | None:
        """The policy version on record under this name, with its text."""
        return await store_policies.find_policy(self._session, version)

    async def find(
        self,
        filters: EntryFilters,
        *,
        limit: int,
        after_seq: int = 0,
        through_seq: int | None = None,
    ) -> list[Entry]:
        """Entries matching the filters, oldest first, after a sequence number."""
        return await store.find_entries(
            self._session,
            limit=limit,
            after_seq=after_seq,
            through_seq=through_seq,
            concern_id=filters.concern_id,
            actor=filters.actor,
            agency=filters.agency,
            action=filters.action,
            actions=filters.actions,
            since=filters.since,
            until=filters.until,
            where=store_scope.visible_to(filters.visible_to) if filters.visible_to else None,
        )

    async def last_seq(self) -> int:
        """The newest entry's sequence number; 0 when the log is empty."""
        return await store.last_seq(self._session)

    def chain(self) -> AsyncIterator[ChainRow]:
        """Every entry in sequence order, read in batches."""
        return store.stream_chain(self._session)

    async def content(self, *, seq: int) -> bytes | None:
        """The stored canonical content of one entry."""
        return await store_tree.entry_content(self._session, seq=seq)


class SessionMerkleTree:
    """The tree heads table, in one session's transaction."""

    def __init__(self, session: AsyncSession, entries: SessionAuditEntries) -> None:
        self._session = session
        self._entries = entries

    async def add_head(
        self, *, signing_key: Ed25519PrivateKey | None, now: datetime
    ) -> TreeHeadView | None:
        """Extend the tree over entries not yet in a head and record (and sign) the new head."""
        return await store_tree.add_tree_head(
            self._session, signing_key=signing_key, now=now, appended=self._entries.appended
        )

    async def latest_head(self) -> TreeHeadView | None:
        """The newest tree head, if any."""
        return await store_tree.latest_tree_head(self._session)

    async def find_head(self, *, tree_size: int) -> TreeHeadView | None:
        """The tree head of exactly this size, if one was recorded."""
        return await store_tree.find_tree_head(self._session, tree_size=tree_size)

    async def heads(self) -> list[TreeHeadView]:
        """Every recorded tree head, smallest first."""
        return await store_tree.all_tree_heads(self._session)

    async def leaf_hashes(self, *, tree_size: int) -> Sequence[bytes]:
        """The leaf hashes of entries 1..tree_size, in order."""
        return await store_tree.leaf_hashes(self._session, tree_size=tree_size)


class SqlAuditUnitOfWork:
    """One transaction on audit's database; what a commit adds is handed to the outbox relay."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self._runtime = runtime
        self._uow: UnitOfWork | None = None
        self._entries: SessionAuditEntries | None = None
        self._tree: SessionMerkleTree | None = None
        self._outbox: SessionOutbox | None = None

    def _open(self) -> tuple[SessionAuditEntries, SessionMerkleTree, SessionOutbox]:
        if self._entries is None or self._tree is None or self._outbox is None:
            raise RuntimeError("SqlAuditUnitOfWork used outside 'async with'")
        return self._entries, self._tree, self._outbox

    @property
    def entries(self) -> SessionAuditEntries:
        """The entries, inside this transaction."""
        return self._open()[0]

    @property
    def tree(self) -> SessionMerkleTree:
        """The tree heads, inside this transaction."""
        return self._open()[1]

    @property
    def outbox(self) -> SessionOutbox:
        """Events published once this transaction commits."""
        return self._open()[2]

    async def __aenter__(self) -> Self:
        """Begin a transaction in a new session."""
        self._uow = await self._runtime.unit_of_work().__aenter__()
        session = self._uow.session
        self._entries = SessionAuditEntries(session)
        self._tree = SessionMerkleTree(session, self._entries)
        self._outbox = SessionOutbox(session, self._runtime.outbox)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed and close the session."""
        uow, self._uow = self._uow, None
        self._entries = self._tree = self._outbox = None
        if uow is not None:
            await uow.__aexit__(exc_type, exc, tb)

    async def commit(self) -> None:
        """Commit; then hand the events this transaction added to the outbox relay."""
        if self._uow is None:
            raise RuntimeError("SqlAuditUnitOfWork used outside 'async with'")
        await self._uow.commit()
        if added := self.outbox.take_added():
            self._runtime.relay.hand(added)
