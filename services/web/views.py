"""Pure helpers that turn API answers into what the pages show."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from pydantic import JsonValue, TypeAdapter

from schemas.v1 import AuditEntryView, NotificationView
from services.common import csv_export

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
    "notification.assigned": "Assigned",
    "notification.decided": "Decided",
    "notification.escalated": "Escalated",
    "access.denied": "Access denied",
    "audit.queried": "Audit queried",
    "delivery.attempted": "Delivery attempted",
    "delivery.succeeded": "Delivered to the agency's system",
    "delivery.failed": "Delivery failed",
    "delivery.dead_lettered": "Delivery given up",
    "delivery.redelivered": "Delivery retried on request",
    "retention.applied": "Content removed (retention)",
    "record.dead_lettered": "Record set aside (could not be handled)",
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
# How the chain writes a time in an entry (six fraction digits, Z): shown and exported as sealed.
SEALED_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"
_MOMENT: TypeAdapter[datetime] = TypeAdapter(datetime)


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
    details: dict[str, JsonValue] = field(default_factory=dict)
    entry_hash: str = ""

    @property
    def action_label(self) -> str:
        """The action in words."""
        return ACTION_LABELS.get(self.action, label(self.action))


def audit_row(view: AuditEntryView) -> AuditRow:
    """An entry of one of audit's pages as a row."""
    entry = view.content()
    return AuditRow(
        seq=view.seq,
        # Written as audit's JSON answer wrote it, so an export reads the same as the API.
        recorded_at=_MOMENT.dump_python(view.recorded_at, mode="json"),
        occurred_at=entry.occurred_at.astimezone(UTC).strftime(SEALED_TIME),
        action=entry.action.value,
        subject=entry.actor.subject,
        agency=entry.actor.agency or "",
        role=entry.actor.role,
        concern_id=str(entry.concern_id or ""),
        notification_id=str(entry.notification_id or ""),
        fields=list(entry.fields),
        details=dict(entry.details),
        entry_hash=view.entry_hash,
    )


def csv_row(row: AuditRow) -> tuple[object, ...]:
    """A row's values for the CSV export, in the order of ``EXPORT_COLUMNS``."""
    return (
        row.seq, row.recorded_at, row.occurred_at, row.action, row.subject, row.agency, row.role,
        row.concern_id, row.notification_id, ";".join(row.fields), row.entry_hash,
    )  # fmt: skip


def csv_lines(rows: list[AuditRow], *, header: bool) -> str:
    """Audit rows as CSV text, with the header line first if asked."""
    values = (csv_row(row) for row in rows)
    return csv_export.csv_text(values, header=EXPORT_COLUMNS if header else None)


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
