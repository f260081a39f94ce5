"""The bench's database figures: what a span wrote, per concern."""

from __future__ import annotations

from bench.database import DatabaseCounters, line, per_concern


def test_a_span_is_divided_among_its_concerns() -> None:
    before = DatabaseCounters(commits=100, wal_bytes=1024, wal_full_page_images=5, checkpoints=2)
    after = DatabaseCounters(commits=400, wal_bytes=1024 + 200 * 1024, wal_full_page_images=65,
                             checkpoints=3)  # fmt: skip
    figures = per_concern(before, after, 100)
    assert figures == {
        "commits_per_concern": 3.0,
        "wal_kb_per_concern": 2.0,
        "wal_full_page_images_per_concern": 0.6,
        "checkpoints": 1,
    }
    assert line(figures) == (
        "PostgreSQL: 3.00 commits, 2 KB of write-ahead log (0.6 full-page images) a concern; "
        "checkpoints meanwhile: 1"
    )


def test_no_concerns_gives_nothing_per_concern() -> None:
    counters = DatabaseCounters(commits=1, wal_bytes=2, wal_full_page_images=3, checkpoints=0)
    figures = per_concern(counters, counters, 0)
    assert figures["commits_per_concern"] == figures["wal_kb_per_concern"] == 0
