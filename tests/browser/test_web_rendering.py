"""The web pages' pure parts: deadlines, filters, exports, and the chronology a template shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from schemas.v1 import AuditEntryView, NotificationView
from services.common.auth import Caller, Role
from services.web import views
from services.web.context import make_templates
from services.web.session import Session, csrf_token
from tests.builders import RECEIVED, a_chronology_entry


def a_notification(**changes: Any) -> NotificationView:
    body: dict[str, Any] = {
        "notification_id": uuid4(),
        "concern_id": uuid4(),
        "kind": "cumulative_concern",
        "status": "new",
        "category": "neglect",
        "severity": "high",
        "source_agency": "nm-hospital-ed",
        "received_at": RECEIVED,
        "reasons": ["cumulative-concern"],
        "policy_version": "2026.11.1",
        "acknowledge_by": RECEIVED + timedelta(hours=1),
        "concern": {"summary": "Third concern in a month."},
        "disclosed_fields": ["summary"],
    }
    return NotificationView.model_validate(body | changes)


def test_time_left_counts_down_then_says_overdue() -> None:
    deadline = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    assert (
        views.time_left(deadline, deadline - timedelta(hours=3, minutes=12)) == "due in 3 h 12 min"
    )
    assert views.time_left(deadline, deadline - timedelta(days=2, hours=1)) == "due in 2 d 1 h"
    assert views.time_left(deadline, deadline + timedelta(minutes=4)) == "overdue by 4 min"


def test_search_filters_drop_blanks_and_read_local_times_as_utc() -> None:
    found = views.search_filters({"actor": " Casey ", "agency": "", "since": "2026-11-24T03:50"})
    assert found == {"actor": "Casey", "since": "2026-11-24T03:50:00+00:00"}


def test_csv_export_defuses_spreadsheet_formulas() -> None:
    actor = {"subject": "=HYPERLINK(1)", "role": "caseworker"}
    sealed = {"event_id": str(uuid4()), "type": "audit.event", "producer": "routing",
              "correlation_id": "c", "occurred_at": "2026-11-24T03:50:00.000000Z"}  # fmt: skip
    entry = {"action": "notification.viewed", "actor": actor, **sealed}
    row = views.audit_row(AuditEntryView(seq=1, recorded_at=RECEIVED, entry_hash="h", entry=entry))
    text = views.csv_lines([row], header=True)
    assert "'=HYPERLINK(1)" in text
    assert text.splitlines()[0].startswith("seq,recorded_at")


def test_a_cumulative_concern_alert_shows_the_childs_chronology() -> None:
    chronology = [
        a_chronology_entry(source_agency="nm-school-oakfield", days_before=30),
        a_chronology_entry(source_agency="nme-police", days_before=5, category="physical_abuse"),
    ]
    shown = a_notification(chronology=[e.model_dump() for e in chronology])
    caller = Caller(subject="Casey", agency="nm-csc", role=Role.CASEWORKER)
    html = make_templates().env.get_template("notification.html").render(
        n=shown, withheld=views.withheld_parts(shown), acknowledged=False,
        session=Session(token="t", caller=caller), agency_name=lambda agency: f"<{agency}>",
    )  # fmt: skip
    assert 'id="chronology"' in html
    assert "The child's chronology" in html
    assert "&lt;nm-school-oakfield&gt;" in html  # escaped, never raw
    assert "Physical abuse" in html
    assert csrf_token("t") in html
    assert "narrative" in views.withheld_parts(shown)
