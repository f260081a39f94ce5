"""What PostgreSQL wrote over a span: commits, write-ahead log and checkpoints, from its own
statistics views.

They say why the database's CPU per concern moves between runs: each commit waits for the
log, each row change adds to it, and the first change to a page after a checkpoint writes the
whole page (a full-page image). Once the log passes `max_wal_size`, PostgreSQL asks for a
checkpoint, and a run that crosses one writes many more images than one that does not.
The log and checkpoint counters are the whole server's; commits are the database's own.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg  # type: ignore[import-untyped]


@dataclass(frozen=True)
class DatabaseCounters:
    """PostgreSQL's cumulative counters at one moment."""

    commits: int
    wal_bytes: int
    wal_full_page_images: int
    checkpoints: int


async def read_counters(dsn: str) -> DatabaseCounters:
    """The counters now."""
    connection = await asyncpg.connect(dsn)
    try:
        commits = await connection.fetchval(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        )
        wal = await connection.fetchrow("SELECT wal_bytes::bigint, wal_fpi FROM pg_stat_wal")
        checkpoints = await connection.fetchval(
            "SELECT num_timed + num_requested FROM pg_stat_checkpointer"
            if await connection.fetchval("SELECT to_regclass('pg_stat_checkpointer') IS NOT NULL")
            else "SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter"
        )
    finally:
        await connection.close()
    return DatabaseCounters(int(commits), int(wal[0]), int(wal[1]), int(checkpoints))


def per_concern(
    before: DatabaseCounters, after: DatabaseCounters, concerns: int
) -> dict[str, float]:
    """What the span wrote per concern, and the checkpoints it crossed."""
    share = 1 / concerns if concerns > 0 else 0.0
    return {
        "commits_per_concern": round((after.commits - before.commits) * share, 3),
        "wal_kb_per_concern": round((after.wal_bytes - before.wal_bytes) / 1024 * share, 2),
        "wal_full_page_images_per_concern": round(
            (after.wal_full_page_images - before.wal_full_page_images) * share, 3
        ),
        "checkpoints": after.checkpoints - before.checkpoints,
    }


def line(figures: dict[str, float]) -> str:
    """The figures of per_concern() for a person."""
    return (
        f"PostgreSQL: {figures['commits_per_concern']:.2f} commits, "
        f"{figures['wal_kb_per_concern']:.0f} KB of write-ahead log "
        f"({figures['wal_full_page_images_per_concern']:.1f} full-page images) a concern; "
        f"checkpoints meanwhile: {figures['checkpoints']:.0f}"
    )
