"""Pure: the inbox as a worklist: its filters, and one row however the notification arrived."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from schemas.v1 import NotificationKind, NotificationStatus, NotificationView, Severity
from schemas.v1.api import ChildSummary, NotificationSummary
from services.web.labels import age_on

PAGE_SIZE = 50
Choice = TypeVar("Choice", NotificationStatus, Severity, NotificationKind)


@dataclass(frozen=True)
class WorklistFilters:
    """What a person narrowed the inbox to; each None means any."""

    status: NotificationStatus | None = None
    severity: Severity | None = None
    kind: NotificationKind | None = None
    mine: bool = False

    @property
    def any(self) -> bool:
        """Whether anything is narrowed at all."""
        return bool(self.status or self.severity or self.kind or self.mine)

    def query(self, **changes: str | None) -> dict[str, str]:
        """These filters as a query string's values, with some changed (None drops one)."""
        values = {
            "status": self.status.value if self.status else None,
            "severity": self.severity.value if self.severity else None,
            "kind": self.kind.value if self.kind else None,
            "mine": "1" if self.mine else None,
            **changes,
        }
        return {name: value for name, value in values.items() if value}

    def api_params(self) -> dict[str, str]:
        """The filters as routing's list parameters, in worklist order."""
        params = {"order": "worklist", "limit": str(PAGE_SIZE), **self.query(mine=None)}
        if self.mine:
            params["assignee"] = "me"
        return params


def _member(values: type[Choice], chosen: str | None) -> Choice | None:
    # A value outside the contract (a hand-edited address) is no filter rather than an error.
    return values(chosen) if chosen in set(values) else None


def worklist_filters(query: Mapping[str, str]) -> WorklistFilters:
    """The filters a query string asks for; unknown values are ignored."""
    return WorklistFilters(
        status=_member(NotificationStatus, query.get("status")),
        severity=_member(Severity, query.get("severity")),
        kind=_member(NotificationKind, query.get("kind")),
        mine=query.get("mine") == "1",
    )


def matches(row: NotificationSummary, filters: WorklistFilters, *, subject: str) -> bool:
    """Whether a row belongs in an inbox narrowed by these filters."""
    return (
        (filters.status is None or row.status is filters.status)
        and (filters.severity is None or row.severity is filters.severity)
        and (filters.kind is None or row.kind is filters.kind)
        and (not filters.mine or row.assignee == subject)
    )


def summary_of(view: NotificationView) -> NotificationSummary:
    """A whole notification (as the stream sends a new one) cut to its worklist row."""
    subject = view.concern.subject
    born = subject.date_of_birth if subject else None
    child = ChildSummary(
        given_name=subject.given_name if subject else None,
        family_name=subject.family_name if subject else None,
        age=age_on(born, view.received_at) if born else None,
    )
    due = view.acknowledge_by if view.acknowledgement is None else view.decide_by
    return NotificationSummary(
        notification_id=view.notification_id,
        concern_id=view.concern_id,
        kind=view.kind,
        status=view.status,
        category=view.category,
        severity=view.severity,
        source_agency=view.source_agency,
        received_at=view.received_at,
        acknowledge_by=view.acknowledge_by,
        decide_by=view.decide_by,
        due_at=due or view.acknowledge_by,
        overdue=view.overdue,
        assignee=view.assignee,
        child=child,
        decision=view.decision.decision if view.decision else None,
        decision_label=view.decision.decision_label if view.decision else None,
        escalation_of=view.escalation_of,
        missed_by_agency=view.missed_by_agency,
    )


def child_words(child: ChildSummary) -> str:
    """The child as a row names them: 'Ava Smith, 7' or what the profile allows of it."""
    name = " ".join(part for part in (child.given_name, child.family_name) if part)
    if child.age is None:
        return name
    age = f"aged {child.age}"
    return f"{name}, {age}" if name else age.capitalize()
