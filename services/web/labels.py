"""Pure: the words a person reads for the contract's codes, field names and moments."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from schemas.v1 import NotificationKind, NotificationStatus
from schemas.v1.events import EscalationReason

# The partnership's people work in England and Wales: they read times on the local clock.
LONDON = ZoneInfo("Europe/London")

KIND_LABELS = {
    NotificationKind.CONCERN: "Concern",
    NotificationKind.CUMULATIVE_CONCERN: "Cumulative concern alert",
    NotificationKind.ESCALATION: "Escalation",
    NotificationKind.FEEDBACK: "Feedback on a decision",
}
STATUS_LABELS = {
    NotificationStatus.NEW: "New",
    NotificationStatus.ACKNOWLEDGED: "Acknowledged",
    NotificationStatus.ESCALATED: "Escalated",
    NotificationStatus.DECIDED: "Decided",
}
FIELD_LABELS = {
    "subject": "The child's details",
    "subject.given_name": "Child's given name",
    "subject.family_name": "Child's family name",
    "subject.date_of_birth": "Child's date of birth",
    "subject.nhs_number": "Child's NHS number",
    "subject.postcode": "Child's home postcode",
    "subject.school_urn": "Child's school",
    "household": "Household members",
    "summary": "Summary",
    "narrative": "Narrative (the full account)",
    "location": "Where it happened",
    "reporter": "Who raised it",
    "lawful_basis": "Lawful basis for sharing",
}
CONSENT_LABELS = {
    "given": "Consent given",
    "refused_overridden": "Consent refused, and overridden",
    "not_sought_risk_of_harm": "Consent not sought: asking would put the child at risk",
    "not_sought_other": "Consent not sought",
}
MISSED_STEP = {
    EscalationReason.ACKNOWLEDGEMENT_OVERDUE: "acknowledge it",
    EscalationReason.DECISION_OVERDUE: "record a decision on it",
}


def when(moment: datetime | str | None) -> str:
    """A moment on the London clock, as '2 December 2026, 14:05'."""
    if not moment:
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    local = moment.astimezone(LONDON)
    return f"{local.day} {local:%B %Y, %H:%M}"


def day(value: date | datetime | None) -> str:
    """A date as '2 December 2026' (a moment's London date)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(LONDON).date()
    return f"{value.day} {value:%B %Y}"


def age_on(born: date, moment: datetime) -> int:
    """Whole years from a date of birth to a moment's London date."""
    on = moment.astimezone(LONDON).date()
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def field_label(name: str) -> str:
    """A field of the concern as a person says it: 'subject.school_urn' -> "Child's school"."""
    return FIELD_LABELS.get(name, name.rsplit(".", 1)[-1].replace("_", " ").capitalize())


def kind_label(kind: NotificationKind | str) -> str:
    """A notification's kind in words."""
    return KIND_LABELS.get(NotificationKind(kind), str(kind))


def status_label(status: NotificationStatus | str) -> str:
    """A notification's status in words."""
    return STATUS_LABELS.get(NotificationStatus(status), str(status))


def consent_label(consent: str) -> str:
    """Whether the family consented, in words."""
    return CONSENT_LABELS.get(consent, consent.replace("_", " ").capitalize())


def missed_step(reason: EscalationReason | None) -> str:
    """What the agency that missed its deadline did not do in time."""
    return MISSED_STEP.get(reason, "act on it") if reason else "act on it"
