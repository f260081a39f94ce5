"""Audit's side of the run: entries appended while it ran, and the raw COPY of the same rows.

Audit throughput is the entries appended since the run began divided by the time from the first
scheduled send to the newest entry's `recorded_at`. The baseline copies exactly those rows, with
asyncpg's `copy_records_to_table`, into a temporary table shaped like `audit.entries`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import asyncpg  # type: ignore[import-untyped]

COLUMNS = (
    "seq", "event_id", "action", "actor_subject", "actor_agency", "actor_role", "concern_id",
    "notification_id", "occurred_at", "recorded_at", "content", "previous_hash", "entry_hash",
    "leaf_hash",
)  # fmt: skip


def asyncpg_dsn(database_url: str) -> str:
    """The DATABASE_URL as asyncpg takes it (no SQLAlchemy driver suffix)."""
    scheme, rest = database_url.split("://", 1)
    return f"{scheme.split('+', 1)[0]}://{rest}"


async def last_seq(dsn: str) -> int:
    """The newest audit entry's sequence number, 0 if none."""
    connection = await asyncpg.connect(dsn)
    try:
        return int(await connection.fetchval("SELECT coalesce(max(seq), 0) FROM audit.entries"))
    finally:
        await connection.close()


@dataclass(frozen=True)
class AuditResult:
    """Entries appended during the run and when the last of them was recorded."""

    entries: int
    last_recorded: float
    rows: list[tuple[Any, ...]]

    def per_s(self, started: float) -> float:
        return self.entries / max(self.last_recorded - started, 1e-9)


async def settle(
    dsn: str, after_seq: int, *, quiet_s: float = 2.0, limit_s: float = 60
) -> AuditResult:
    """Wait until no entry has been appended for `quiet_s`; the entries after `after_seq`."""
    connection = await asyncpg.connect(dsn)
    try:
        count, changed, deadline = -1, time.monotonic(), time.monotonic() + limit_s
        while time.monotonic() < deadline:
            now = int(
                await connection.fetchval(
                    "SELECT count(*) FROM audit.entries WHERE seq > $1", after_seq
                )
            )
            if now != count:
                count, changed = now, time.monotonic()
            elif time.monotonic() - changed >= quiet_s:
                break
            await asyncio.sleep(0.25)
        rows = await connection.fetch(
            f"SELECT {', '.join(COLUMNS)} FROM audit.entries WHERE seq > $1 ORDER BY seq",
            after_seq,
        )
    finally:
        await connection.close()
    last = max((row["recorded_at"].timestamp() for row in rows), default=0.0)
    return AuditResult(entries=len(rows), last_recorded=last, rows=[tuple(r) for r in rows])


async def raw_copy_rows_per_s(dsn: str, rows: list[tuple[Any, ...]]) -> float:
    """Rows per second of one `copy_records_to_table` of these rows into a temporary table."""
    if not rows:
        return 0.0
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            "CREATE TEMP TABLE bench_entries (LIKE audit.entries INCLUDING DEFAULTS)"
        )
        started = time.perf_counter()
        await connection.copy_records_to_table("bench_entries", records=rows, columns=COLUMNS)
        elapsed = time.perf_counter() - started
        await connection.execute("DROP TABLE bench_entries")
    finally:
        await connection.close()
    return len(rows) / max(elapsed, 1e-9)
