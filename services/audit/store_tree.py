"""Signed tree heads: one row per appended batch, each carrying the compact range it extends."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    LargeBinary,
    Row,
    String,
    Table,
    Text,
    insert,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.v1 import TreeHeadView
from services.audit.merkle import MerkleAccumulator
from services.audit.store import Appended, entries, metadata
from services.audit.tree_head import tree_head

tree_heads = Table(
    "tree_heads",
    metadata,
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
    Column("root_hash", LargeBinary, nullable=False),
    Column("timestamp", DateTime(timezone=True), nullable=False),
    Column("signature", String(200), nullable=True),
    Column("key_id", String(64), nullable=True),
    Column("compact_range", Text, nullable=False),
)


def _view(row: Row[Any]) -> TreeHeadView:
    return TreeHeadView(
        tree_size=row.tree_size,
        root_hash=bytes(row.root_hash).hex(),
        timestamp=row.timestamp,
        signature=row.signature,
        key_id=row.key_id,
    )


async def latest_accumulator(session: AsyncSession) -> MerkleAccumulator:
    """The compact range of the newest tree head (the empty tree if none)."""
    found = (
        await session.execute(
            select(tree_heads.c.compact_range).order_by(tree_heads.c.tree_size.desc()).limit(1)
        )
    ).scalar_one_or_none()
    if found is None:
        return MerkleAccumulator()
    return MerkleAccumulator.from_state(json.loads(found))


async def add_tree_head(
    session: AsyncSession,
    *,
    signing_key: Ed25519PrivateKey | None,
    now: datetime,
    appended: Appended | None = None,
) -> TreeHeadView | None:
    """Extend the tree over entries not yet in a head and record (and sign) the new head.

    `appended`, what this transaction's append wrote, saves reading its leaves back when the
    newest head ends where that append began (as it does, both being in one transaction).
    """
    accumulator = await latest_accumulator(session)
    leaves: Sequence[bytes]
    if appended is not None and appended.after_seq == accumulator.size:
        leaves = appended.leaves
    else:
        leaves = (
            (
                await session.execute(
                    select(entries.c.leaf_hash)
                    .where(entries.c.seq > accumulator.size)
                    .order_by(entries.c.seq)
                )
            )
            .scalars()
            .all()
        )
    if not leaves:
        return None
    grown = accumulator.extended(bytes(leaf) for leaf in leaves)
    root = grown.root()
    head = tree_head(grown.size, root, signing_key=signing_key, now=now)
    await session.execute(
        insert(tree_heads).values(
            tree_size=head.tree_size,
            root_hash=root,
            timestamp=head.timestamp,
            signature=head.signature,
            key_id=head.key_id,
            compact_range=json.dumps(grown.to_state()),
        )
    )
    return head


async def latest_tree_head(session: AsyncSession) -> TreeHeadView | None:
    """The newest tree head, if any."""
    row = (
        await session.execute(select(tree_heads).order_by(tree_heads.c.tree_size.desc()).limit(1))
    ).first()
    return _view(row) if row else None


async def find_tree_head(session: AsyncSession, *, tree_size: int) -> TreeHeadView | None:
    """The tree head of exactly this size, if one was recorded."""
    query = select(tree_heads).where(tree_heads.c.tree_size == tree_size)
    row = (await session.execute(query)).first()
    return _view(row) if row else None


async def all_tree_heads(session: AsyncSession) -> list[TreeHeadView]:
    """Every recorded tree head, smallest first."""
    rows = (await session.execute(select(tree_heads).order_by(tree_heads.c.tree_size))).all()
    return [_view(row) for row in rows]


async def leaf_hashes(session: AsyncSession, *, tree_size: int) -> Sequence[bytes]:
    """The leaf hashes of entries 1..tree_size, in order."""
    rows = (
        await session.execute(
            select(entries.c.leaf_hash).where(entries.c.seq <= tree_size).order_by(entries.c.seq)
        )
    ).scalars()
    return [bytes(leaf) for leaf in rows]


async def entry_content(session: AsyncSession, *, seq: int) -> bytes | None:
    """The stored canonical content of one entry."""
    found = (
        await session.execute(select(entries.c.content).where(entries.c.seq == seq))
    ).scalar_one_or_none()
    return bytes(found) if found is not None else None
