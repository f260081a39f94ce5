"""Routing's child index: who each concern is about, across concerns and agencies.

A child is a `children` row; `child_keys` maps each match key (policy.child_match_keys) to it and
`child_concerns` holds the child's chronology: when, what and from whom, never a narrative.

Merging: a concern whose keys name several children proves they are one child (say, an earlier
concern without an NHS number and another with only the number, now joined by a concern with
both). The oldest child (by created_at, then id) is kept; the others' keys and concerns are
re-pointed to it and their rows deleted. The kept child's last_alerted_at becomes the latest of
theirs, so concerns that already counted towards an alert do not raise another.

Concurrency: the match keys are locked with transaction advisory locks (in sorted order, so two
transactions never wait on each other crosswise) before they are looked up, so two processes
cannot each create the same child; the child's row is then locked FOR UPDATE so its chronology
and alert state are read and written by one transaction at a time.

The HMAC key of the match keys: the `child_index_key` setting when set (production, from a
secret store). When unset, the first routing process to need it generates 32 random bytes and
stores them in `routing.secrets`; every process then reads that row, so all share one key. This
keeps the key out of the repository and out of any literal, but a dump of routing's schema then
holds the key beside the index: acceptable for the local stack and tests only.
"""

from __future__ import annotations

import secrets as random_secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from uuid import UUID, uuid4

from pydantic import SecretStr
from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    LargeBinary,
    String,
    Table,
    Text,
    Uuid,
    bindparam,
    delete,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from schemas.v1 import ConcernReceivedPayload
from schemas.v1.events import ChronologyEntry
from services.common.db import unnested_insert, unnested_parameters
from services.common.deferred import defer
from services.routing.routing import IndexedChild, IndexedConcerns, KnownChild, TakenUp
from services.routing.store import SCHEMA, metadata

INDEX_KEY_NAME = "child-index-key"
# The first half of the two-integer advisory lock ids this module takes ("CHLD").
LOCK_SPACE = 0x43484C44

children = Table(
    "children",
    metadata,
    Column("child_id", Uuid, primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_alerted_at", DateTime(timezone=True), nullable=True),
)

child_keys = Table(
    "child_keys",
    metadata,
    Column("key", Text, primary_key=True),
    Column("child_id", Uuid, ForeignKey(f"{SCHEMA}.children.child_id"), nullable=False),
)

child_concerns = Table(
    "child_concerns",
    metadata,
    Column("concern_id", Uuid, primary_key=True),
    Column("child_id", Uuid, ForeignKey(f"{SCHEMA}.children.child_id"), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("category", String(50), nullable=False),
    Column("severity", String(20), nullable=False),
    Column("source_agency", String(100), nullable=False),
)

CHILD_COLUMNS = ("child_id", "created_at")
ADD_CHILDREN = unnested_insert(children, CHILD_COLUMNS, prefix="child")
KEY_COLUMNS = ("key", "child_id")
ADD_CHILD_KEYS = unnested_insert(child_keys, KEY_COLUMNS, prefix="key").on_conflict_do_nothing()
ENTRY_COLUMNS = (
    "concern_id", "child_id", "received_at", "occurred_at", "category", "severity",
    "source_agency",
)  # fmt: skip
ADD_CHILD_CONCERNS = unnested_insert(
    child_concerns, ENTRY_COLUMNS, prefix="entry"
).on_conflict_do_nothing()
_alerted = select(
    func.unnest(bindparam("alerted_ids", type_=ARRAY(Uuid))).label("child_id"),
    func.unnest(bindparam("alerted_at", type_=ARRAY(DateTime(timezone=True)))).label("at"),
).subquery("alerted")
# Every child whose latest alert moves, in one statement.
MARK_ALERTED = (
    update(children)
    .where(children.c.child_id == _alerted.c.child_id)
    .values(last_alerted_at=_alerted.c.at)
)

# Lock the children and read their chronologies in one statement: oldest concern first.
_LOCKED_WITH_CHRONOLOGIES = (
    select(
        children.c.child_id, children.c.last_alerted_at, child_concerns.c.concern_id,
        child_concerns.c.received_at, child_concerns.c.occurred_at, child_concerns.c.category,
        child_concerns.c.severity, child_concerns.c.source_agency,
    )
    .outerjoin(child_concerns, child_concerns.c.child_id == children.c.child_id)
    .where(children.c.child_id == func.any(bindparam("locked", type_=ARRAY(Uuid))))
    .order_by(children.c.child_id, child_concerns.c.received_at, child_concerns.c.concern_id)
    .with_for_update(of=children)
)  # fmt: skip

secrets = Table(
    "secrets",
    metadata,
    Column("name", String(50), primary_key=True),
    Column("value", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), server_default=func.now()),
)


class ChildIndexSecret:
    """The HMAC key of the child index: configured, or generated once and kept in the schema."""

    def __init__(self, configured: SecretStr | None) -> None:
        self._value = configured.get_secret_value().encode() if configured else None

    async def value(self, sessions: async_sessionmaker[AsyncSession]) -> bytes:
        """The key; loaded (or generated) in a transaction of its own, then kept in memory."""
        if self._value is None:
            async with sessions() as session, session.begin():
                await session.execute(
                    pg_insert(secrets)
                    .values(name=INDEX_KEY_NAME, value=random_secrets.token_bytes(32))
                    .on_conflict_do_nothing()
                )
                stored = await session.scalar(
                    select(secrets.c.value).where(secrets.c.name == INDEX_KEY_NAME)
                )
            assert stored is not None
            self._value = bytes(stored)
        return self._value


# Routing's take_up_concerns() (migration 0007): processed events, key locks and the lookup in
# one round trip, each its own statement so the lookup's snapshot comes after the locks.
_TAKE_UP = (
    text(f"SELECT * FROM {SCHEMA}.take_up_concerns(:event_ids, :keys, :space)")
    .bindparams(
        bindparam("event_ids", type_=ARRAY(Uuid)),
        bindparam("keys", type_=ARRAY(String)),
        bindparam("space", value=LOCK_SPACE),
    )
    .columns(
        fresh_event_id=Uuid, known_key=String, known_child_id=Uuid,
        known_created_at=DateTime(timezone=True),
    )
)  # fmt: skip


async def take_up(session: AsyncSession, event_ids: Sequence[UUID], keys: Sequence[str]) -> TakenUp:
    """Record these events as handled and lock these keys (in one order, so two batches never
    wait on each other crosswise); the events not handled before, and the children the keys
    already name."""
    fresh: set[UUID] = set()
    known: dict[str, KnownChild] = {}
    for row in await session.execute(_TAKE_UP, {"event_ids": list(event_ids), "keys": keys}):
        if row.fresh_event_id is not None:
            fresh.add(row.fresh_event_id)
        else:
            known[row.known_key] = KnownChild(row.known_child_id, row.known_created_at)
    return TakenUp(fresh=fresh, known=known)


async def record_concerns(
    session: AsyncSession,
    concerns: Sequence[tuple[Sequence[str], ConcernReceivedPayload]],
    *,
    known: Mapping[str, KnownChild],
    now: datetime,
) -> IndexedConcerns:
    """The child of each (keys, concern), found, created or merged, with the concerns added;
    the children locked, each with its chronology.

    The keys are locked by take_up() in this transaction, and `known` is what it found.
    Concerns of one batch that share a key are about one child, as they would be one at a time.
    """
    all_keys = sorted({key for keys, _ in concerns for key in keys})
    found = [(key, known[key]) for key in all_keys if key in known]
    groups = _Groups()
    for index, (keys, _) in enumerate(concerns):
        for key in keys:
            groups.join(("concern", index), ("key", key))
    for key, child in found:
        groups.join(("key", key), ("child", child.child_id))
    created = {child.child_id: child.created_at for _, child in found}
    existing: dict[object, list[UUID]] = {}
    for child_id in created:
        existing.setdefault(groups.root(("child", child_id)), []).append(child_id)
    chosen: dict[object, UUID] = {}
    new_children: list[dict[str, object]] = []
    for index in range(len(concerns)):
        root = groups.root(("concern", index))
        if root in chosen:
            continue
        candidates = sorted(existing.get(root, []), key=lambda c: (created[c], c))
        if candidates:
            chosen[root] = candidates[0]
            await _merge_children(session, into=candidates[0], others=candidates[1:])
        else:
            chosen[root] = uuid4()
            new_children.append({"child_id": chosen[root], "created_at": now})
    # Sent as one statement with the lock on the children just below (deferred inserts).
    if new_children:
        defer(
            session, ADD_CHILDREN, unnested_parameters(new_children, CHILD_COLUMNS, prefix="child")
        )
    if all_keys:
        keyed = [{"key": key, "child_id": chosen[groups.root(("key", key))]} for key in all_keys]
        defer(session, ADD_CHILD_KEYS, unnested_parameters(keyed, KEY_COLUMNS, prefix="key"))
    added = [
        {
            "concern_id": received.concern_id,
            "child_id": chosen[groups.root(("concern", index))],
            "received_at": received.received_at,
            "occurred_at": received.concern.occurred_at,
            "category": received.concern.category.value,
            "severity": received.concern.severity.value,
            "source_agency": received.source_agency,
        }
        for index, (_, received) in enumerate(concerns)
    ]
    defer(session, ADD_CHILD_CONCERNS, unnested_parameters(added, ENTRY_COLUMNS, prefix="entry"))
    # The children locked (in id order) with every concern of theirs, new ones included.
    alerted: dict[UUID, datetime | None] = {}
    chronologies: dict[UUID, list[ChronologyEntry]] = {}
    locked = await session.execute(
        _LOCKED_WITH_CHRONOLOGIES, {"locked": sorted(set(chosen.values()))}
    )
    for entry in locked:
        alerted[entry.child_id] = entry.last_alerted_at
        entries = chronologies.setdefault(entry.child_id, [])
        if entry.concern_id is not None:
            entries.append(ChronologyEntry.model_validate(entry, from_attributes=True))
    result = []
    for index in range(len(concerns)):
        child_id = chosen[groups.root(("concern", index))]
        result.append(IndexedChild(child_id=child_id, last_alerted_at=alerted[child_id]))
    return IndexedConcerns(children=result, chronologies=chronologies)


class _Groups:
    """Union-find over concerns, keys and children: what shares a key is one child."""

    def __init__(self) -> None:
        self._parent: dict[object, object] = {}

    def root(self, node: object) -> object:
        """The representative of node's group."""
        parent = self._parent.setdefault(node, node)
        if parent == node:
            return node
        top = self.root(parent)
        self._parent[node] = top
        return top

    def join(self, a: object, b: object) -> None:
        """Put a and b in one group."""
        self._parent[self.root(a)] = self.root(b)


async def _merge_children(session: AsyncSession, *, into: UUID, others: list[UUID]) -> None:
    if not others:
        return
    latest = await session.scalar(
        select(func.max(children.c.last_alerted_at)).where(children.c.child_id.in_([into, *others]))
    )
    await session.execute(
        update(child_keys).where(child_keys.c.child_id.in_(others)).values(child_id=into)
    )
    await session.execute(
        update(child_concerns).where(child_concerns.c.child_id.in_(others)).values(child_id=into)
    )
    await session.execute(delete(children).where(children.c.child_id.in_(others)))
    await session.execute(
        update(children).where(children.c.child_id == into).values(last_alerted_at=latest)
    )


async def mark_alerted(session: AsyncSession, alerted: Mapping[UUID, datetime]) -> None:
    """Record, per child, the received time of the concern that raised its latest alert."""
    if not alerted:
        return
    await session.execute(
        MARK_ALERTED, {"alerted_ids": list(alerted), "alerted_at": list(alerted.values())}
    )


async def find_child_ids(session: AsyncSession, concern_ids: Sequence[UUID]) -> dict[UUID, UUID]:
    """The child each of these concerns is about, by concern id (merges followed)."""
    if not concern_ids:
        return {}
    rows = await session.execute(
        select(child_concerns.c.concern_id, child_concerns.c.child_id).where(
            child_concerns.c.concern_id.in_(set(concern_ids))
        )
    )
    return {row.concern_id: row.child_id for row in rows}
