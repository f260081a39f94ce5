"""How auditors read entries: pages, a readable trail, a person's accesses, CSV and JSON rows.

Pure: entries in, views or text out. Field names only ever appear here, never their values.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from schemas.v1 import (
    Actor,
    AuditAction,
    AuditEntryView,
    AuditPage,
    ConcernTrail,
    PersonAccess,
    TrailStep,
)
from services.audit.unit_of_work import Entry
from services.common import csv_export

# What a person can have seen or tried to see, and what they submitted.
PERSON_ACTIONS = (
    AuditAction.CONCERN_SUBMITTED.value,
    AuditAction.NOTIFICATION_LISTED.value,
    AuditAction.NOTIFICATION_VIEWED.value,
    AuditAction.NOTIFICATION_ACKNOWLEDGED.value,
    AuditAction.ACCESS_DENIED.value,
)
CSV_COLUMNS = (
    "seq", "occurred_at", "recorded_at", "action", "actor_subject", "actor_agency", "actor_role",
    "concern_id", "notification_id", "fields", "details", "entry_hash",
)  # fmt: skip


def entry_view(entry: Entry) -> AuditEntryView:
    """An entry as the API shows it."""
    # Not validated again: the content is what the log sealed and read back as JSON, and
    # validating every entry of an export would double its cost.
    return AuditEntryView.model_construct(
        seq=entry.seq,
        recorded_at=entry.recorded_at,
        entry_hash=entry.entry_hash,
        entry=entry.content,
    )


def page(found: list[Entry], limit: int) -> AuditPage:
    """The first ``limit`` entries, with a cursor if ``found`` held more."""
    items = [entry_view(e) for e in found[:limit]]
    return AuditPage(items=items, next_cursor=str(items[-1].seq) if len(found) > limit else None)


def _recipient(details: dict[str, Any]) -> str | None:
    value = details.get("recipient_agency")
    return value if isinstance(value, str) else None


def trail_step(entry: Entry) -> TrailStep:
    """An entry of a concern's trail, readable without parsing its content."""
    c = entry.content
    return TrailStep(
        seq=entry.seq,
        when=c["occurred_at"],
        who=Actor.model_validate(c["actor"]),
        action=c["action"],
        notification_id=c.get("notification_id"),
        recipient_agency=_recipient(c.get("details") or {}),
        fields=c.get("fields") or [],
    )


def concern_trail(found: list[Entry]) -> ConcernTrail:
    """A concern's whole trail."""
    return ConcernTrail(
        items=[entry_view(e) for e in found], summary=[trail_step(e) for e in found]
    )


def person_access(entry: Entry) -> PersonAccess:
    """An entry of a person's access history."""
    c = entry.content
    return PersonAccess(
        seq=entry.seq,
        when=c["occurred_at"],
        action=c["action"],
        agency=c["actor"].get("agency"),
        role=c["actor"]["role"],
        concern_id=c.get("concern_id"),
        notification_id=c.get("notification_id"),
        fields=c.get("fields") or [],
        details=c.get("details") or {},
    )


def csv_row(entry: Entry) -> tuple[object, ...]:
    """An entry's values for one CSV row, in the order of ``CSV_COLUMNS``."""
    c = entry.content
    actor = c["actor"]
    return (
        entry.seq, c["occurred_at"], entry.recorded_at.isoformat(), c["action"],
        actor["subject"], actor.get("agency"), actor["role"], c.get("concern_id"),
        c.get("notification_id"), ";".join(c.get("fields") or []),
        json.dumps(c.get("details") or {}, sort_keys=True, separators=(",", ":")),
        entry.entry_hash,
    )  # fmt: skip


def csv_text(entries: Iterable[Entry], *, header: bool = False) -> str:
    """CSV lines for some entries, the header first if asked."""
    rows = (csv_row(e) for e in entries)
    return csv_export.csv_text(rows, header=CSV_COLUMNS if header else None)


def json_items(entries: Iterable[Entry], *, first: bool) -> str:
    """Entries as elements of a JSON array, comma-led unless the very first."""
    parts = [entry_view(e).model_dump_json() for e in entries]
    text = ",\n".join(parts)
    return text if first or not text else ",\n" + text
