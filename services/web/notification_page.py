"""Pure: what the notification page shows beyond the answer itself (dates, the child, names)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from schemas.v1 import NotificationView
from services.web.labels import day


def incident_at(notification: NotificationView) -> datetime | None:
    """When it happened, if the notification carries it (a chronology names each concern's)."""
    if notification.occurred_at is not None:
        return notification.occurred_at
    for entry in notification.chronology or []:
        if entry.concern_id == notification.concern_id:
            return entry.occurred_at
    return None


def colleagues(notification: NotificationView) -> list[str]:
    """People of the agency this notification names: who acknowledged, decided or has it."""
    names = [notification.assignee]
    if notification.acknowledgement and notification.acknowledgement.acknowledged_by_role in (
        None,
        "caseworker",
    ):
        names.append(notification.acknowledgement.acknowledged_by)
    names += [d.decided_by for d in notification.decisions if d.decided_by_role == "caseworker"]
    return sorted({name for name in names if name})


def nhs_number(digits: str) -> str:
    """An NHS number as people write it: '943 476 5919'."""
    return f"{digits[:3]} {digits[3:6]} {digits[6:]}" if len(digits) == 10 else digits


def subject_value(name: str, value: object, *, school_name: Callable[[str], str | None]) -> str:
    """One of the child's details as a person reads it."""
    if name == "date_of_birth" and isinstance(value, date | str):
        return day(date.fromisoformat(value) if isinstance(value, str) else value)
    if name == "nhs_number":
        return nhs_number(str(value))
    if name == "school_urn":
        school = school_name(str(value))
        return f"{school} (URN {value})" if school else f"URN {value}"
    return str(value)
