"""How auditors read entries: pages, a readable trail, a person's accesses, CSV and JSON rows.

Pure: entries in, views or text out. Field names only ever appear here, never their values.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from schemas.v1 import Actor, AuditAction
from services.audit.store import Entry

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
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ExportFormat(StrEnum):
    """How an export is written."""

    CSV = "csv"
    JSON = "json"


class AuditEntryView(BaseModel):
    """One audit entry."""

    seq: int
    recorded_at: datetime
    entry_hash: str
    entry: dict[str, Any]


class AuditPage(BaseModel):
    """A page of audit entries, oldest first."""

    items: list[AuditEntryView]
    next_cursor: str | None = None


class TrailStep(BaseModel):
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


class PersonAccess(BaseModel):
    """One thing a person saw, acknowledged, was refused, or submitted."""

    seq: int
    when: datetime
    action: AuditAction
    agency: str | None = Field(description="The agency the person acted for.")
    role: str
    concern_id: UUID | None = None
    notification_id: UUID | None = None
    fields: list[str] = Field(default_factory=list, description="Names of the fields disclosed.")
    details: dict[str, Any] = Field(default_factory=dict)


class PersonAccessPage(BaseModel):
    """A person's access history, oldest first."""

    subject: str
    items: list[PersonAccess]
    next_cursor: str | None = None


def entry_view(entry: Entry) -> AuditEntryView:
    """An entry as the API shows it."""
    return AuditEntryView(
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


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # A spreadsheet would run a cell starting like a formula; quote it (OWASP CSV injection).
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_row(entry: Entry) -> list[str]:
    """An entry as one CSV row, in the order of ``CSV_COLUMNS``."""
    c = entry.content
    actor = c["actor"]
    values = (
        entry.seq, c["occurred_at"], entry.recorded_at.isoformat(), c["action"],
        actor["subject"], actor.get("agency"), actor["role"], c.get("concern_id"),
        c.get("notification_id"), ";".join(c.get("fields") or []),
        json.dumps(c.get("details") or {}, sort_keys=True, separators=(",", ":")),
        entry.entry_hash,
    )  # fmt: skip
    return [_cell(v) for v in values]


def csv_text(entries: Iterable[Entry], *, header: bool = False) -> str:
    """CSV lines for some entries, the header first if asked."""
    out = io.StringIO()
    writer = csv.writer(out)
    if header:
        writer.writerow(CSV_COLUMNS)
    writer.writerows(csv_row(e) for e in entries)
    return out.getvalue()


def json_items(entries: Iterable[Entry], *, first: bool) -> str:
    """Entries as elements of a JSON array, comma-led unless the very first."""
    parts = [entry_view(e).model_dump_json() for e in entries]
    text = ",\n".join(parts)
    return text if first or not text else ",\n" + text
