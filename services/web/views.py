"""Pure helpers that turn API answers into what the pages show."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from schemas.v1 import NotificationView

CONCERN_PARTS = (
    "subject",
    "household",
    "summary",
    "narrative",
    "location",
    "reporter",
    "lawful_basis",
)
ACTION_LABELS = {
    "concern.submitted": "Submitted",
    "concern.routed": "Routed",
    "notification.delivered": "Delivered",
    "notification.listed": "Listed",
    "notification.viewed": "Viewed",
    "notification.acknowledged": "Acknowledged",
    "notification.escalated": "Escalated",
    "access.denied": "Access denied",
    "audit.queried": "Audit queried",
}
EXPORT_COLUMNS = (
    "seq",
    "recorded_at",
    "occurred_at",
    "action",
    "subject",
    "agency",
    "role",
    "concern_id",
    "notification_id",
    "fields",
    "entry_hash",
)


def label(value: object) -> str:
    """A snake_case or dotted value as words: 'physical_abuse' -> 'Physical abuse'."""
    text = str(value).replace("_", " ").replace(".", " ")
    for acronym in ("nhs", "urn", "fgm"):
        text = " ".join(acronym.upper() if word == acronym else word for word in text.split(" "))
    return text[:1].upper() + text[1:]


def when(moment: datetime | str | None, *, seconds: bool = False) -> str:
    """A moment as '24 Nov 2026, 03:50 UTC' (or with ':07' seconds)."""
    if not moment:
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(UTC).strftime(f"%d %b %Y, %H:%M{':%S' if seconds else ''} UTC")


def duration(seconds: float) -> str:
    """A span as '2 d 3 h', '3 h 12 min' or '4 min'."""
    minutes = int(abs(seconds) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {mins} min"
    return f"{mins} min"


def time_left(deadline: datetime, now: datetime) -> str:
    """'due in 3 h 12 min' or 'overdue by 4 min'."""
    seconds = (deadline - now).total_seconds()
    return f"due in {duration(seconds)}" if seconds >= 0 else f"overdue by {duration(seconds)}"


def withheld_parts(notification: NotificationView) -> list[str]:
    """The parts of the concern this recipient's sharing profile withholds."""
    concern = notification.concern
    return [part for part in CONCERN_PARTS if getattr(concern, part) is None]


@dataclass(frozen=True)
class AuditRow:
    """One audit entry as the auditor pages show it."""

    seq: int
    recorded_at: str
    occurred_at: str
    action: str
    subject: str
    agency: str
    role: str
    concern_id: str
    notification_id: str
    fields: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    entry_hash: str = ""

    @property
    def action_label(self) -> str:
        """The action in words."""
        return ACTION_LABELS.get(self.action, label(self.action))


def audit_row(item: dict[str, Any]) -> AuditRow:
    """An item of audit's AuditPage as a row."""
    entry: dict[str, Any] = item.get("entry") or {}
    actor: dict[str, Any] = entry.get("actor") or {}
    return AuditRow(
        seq=int(item["seq"]),
        recorded_at=str(item.get("recorded_at") or ""),
        occurred_at=str(entry.get("occurred_at") or ""),
        action=str(entry.get("action") or ""),
        subject=str(actor.get("subject") or ""),
        agency=str(actor.get("agency") or ""),
        role=str(actor.get("role") or ""),
        concern_id=str(entry.get("concern_id") or ""),
        notification_id=str(entry.get("notification_id") or ""),
        fields=[str(f) for f in entry.get("fields") or []],
        details=dict(entry.get("details") or {}),
        entry_hash=str(item.get("entry_hash") or ""),
    )


def _cell(value: object) -> str:
    text = str(value)
    # A cell starting like a formula would run in a spreadsheet; make it plain text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_lines(rows: list[AuditRow], *, header: bool) -> str:
    """Audit rows as CSV text, with the header line first if asked."""
    out = io.StringIO()
    writer = csv.writer(out)
    if header:
        writer.writerow(EXPORT_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                _cell(row.seq),
                _cell(row.recorded_at),
                _cell(row.occurred_at),
                _cell(row.action),
                _cell(row.subject),
                _cell(row.agency),
                _cell(row.role),
                _cell(row.concern_id),
                _cell(row.notification_id),
                _cell(";".join(row.fields)),
                _cell(row.entry_hash),
            ]
        )
    return out.getvalue()


def search_filters(query: dict[str, str]) -> dict[str, str]:
    """The audit search filters from a query string: blanks dropped, local times read as UTC."""
    filters: dict[str, str] = {}
    for name in ("concern_id", "actor", "agency", "action", "since", "until"):
        value = query.get(name, "").strip()
        if not value:
            continue
        if name in ("since", "until") and "+" not in value and not value.endswith("Z"):
            value = value + (":00" if len(value) == 16 else "") + "+00:00"
        filters[name] = value
    return filters
