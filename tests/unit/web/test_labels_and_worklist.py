"""The web pages' words and worklist: UK dates, field names as people say them, filters, rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from schemas.v1 import NotificationKind, NotificationStatus, NotificationView, Severity
from schemas.v1.api import ChildSummary
from services.web import labels, notification_page, worklist
from services.web.context import make_templates
from services.web.session import local_path
from services.web.settings import WebSettings
from tests.builders import RECEIVED


def a_view(**changes: Any) -> NotificationView:
    body: dict[str, Any] = {
        "notification_id": uuid4(),
        "concern_id": uuid4(),
        "kind": "concern",
        "status": "new",
        "category": "neglect",
        "severity": "high",
        "source_agency": "nm-hospital-ed",
        "received_at": RECEIVED,
        "reasons": ["home-area-social-care"],
        "policy_version": "2026.11.1",
        "acknowledge_by": RECEIVED + timedelta(hours=1),
        "decide_by": RECEIVED + timedelta(days=1),
        "concern": {
            "subject": {"given_name": "Ava", "family_name": "Stone", "date_of_birth": "2018-11-17"}
        },
        "disclosed_fields": ["subject.given_name", "subject.family_name", "subject.date_of_birth"],
    }
    return NotificationView.model_validate(body | changes)


@pytest.mark.parametrize(
    ("moment", "shown"),
    [
        (datetime(2026, 12, 2, 14, 5, tzinfo=UTC), "2 December 2026, 14:05"),  # GMT
        (datetime(2026, 7, 1, 13, 5, tzinfo=UTC), "1 July 2026, 14:05"),  # BST
        (datetime(2026, 3, 28, 23, 30, tzinfo=UTC), "28 March 2026, 23:30"),
        (datetime(2026, 3, 29, 1, 30, tzinfo=UTC), "29 March 2026, 02:30"),  # clocks went forward
    ],
)
def test_moments_read_on_the_london_clock_in_the_uk_form(moment: datetime, shown: str) -> None:
    assert labels.when(moment) == shown


def test_dates_read_in_the_uk_form() -> None:
    assert labels.day(date(2018, 5, 4)) == "4 May 2018"
    assert labels.when(None) == ""


def test_fields_are_named_as_a_person_says_them() -> None:
    assert labels.field_label("subject.school_urn") == "Child's school"
    assert labels.field_label("lawful_basis") == "Lawful basis for sharing"
    assert labels.field_label("subject.nhs_number") == "Child's NHS number"
    assert labels.field_label("subject.shoe_size") == "Shoe size"


def test_kinds_statuses_and_escalations_read_in_words() -> None:
    assert labels.kind_label(NotificationKind.CUMULATIVE_CONCERN) == "Cumulative concern alert"
    assert labels.kind_label("feedback") == "Feedback on a decision"
    assert labels.status_label(NotificationStatus.DECIDED) == "Decided"
    assert labels.missed_step(None) == "act on it"


def test_age_is_whole_years_on_the_day_received() -> None:
    received = datetime(2026, 11, 16, 9, 30, tzinfo=UTC)
    assert labels.age_on(date(2018, 11, 16), received) == 8
    assert labels.age_on(date(2018, 11, 17), received) == 7


def test_filters_read_from_the_query_ignore_values_outside_the_contract() -> None:
    filters = worklist.worklist_filters({"status": "new", "severity": "urgent", "mine": "1"})
    assert filters == worklist.WorklistFilters(status=NotificationStatus.NEW, mine=True)
    assert filters.api_params() == {
        "order": "worklist",
        "limit": "50",
        "status": "new",
        "assignee": "me",
    }
    assert filters.query(status=None) == {"mine": "1"}
    assert not worklist.worklist_filters({}).any


def test_a_row_matches_only_the_filters_it_meets() -> None:
    row = worklist.summary_of(a_view(assignee="Casey"))
    assert worklist.matches(row, worklist.WorklistFilters(), subject="Riley")
    mine = worklist.WorklistFilters(mine=True, severity=Severity.HIGH)
    assert worklist.matches(row, mine, subject="Casey")
    assert not worklist.matches(row, mine, subject="Riley")
    assert not worklist.matches(row, worklist.WorklistFilters(kind=NotificationKind.FEEDBACK),
                                subject="Casey")  # fmt: skip


def test_a_whole_notification_becomes_a_row_with_the_childs_name_and_age() -> None:
    view = a_view()
    row = worklist.summary_of(view)
    assert row.child == ChildSummary(given_name="Ava", family_name="Stone", age=7)
    assert row.due_at == view.acknowledge_by
    assert worklist.child_words(row.child) == "Ava Stone, aged 7"
    assert worklist.child_words(ChildSummary(age=4)) == "Aged 4"
    taken = {"acknowledged_by": "Casey", "acknowledged_at": RECEIVED}
    acknowledged = a_view(acknowledgement=taken, status="acknowledged")
    assert worklist.summary_of(acknowledged).due_at == acknowledged.decide_by


def test_a_school_is_named_and_an_nhs_number_spaced() -> None:
    named = notification_page.subject_value(
        "school_urn", "100101", school_name=lambda urn: "Oakfield Primary"
    )
    assert named == "Oakfield Primary (URN 100101)"

    def nowhere(urn: str) -> None:
        return None

    assert notification_page.subject_value("nhs_number", "9434765919", school_name=nowhere) == (
        "943 476 5919"
    )
    assert notification_page.subject_value("date_of_birth", "2018-05-14", school_name=nowhere) == (
        "14 May 2018"
    )


@pytest.mark.parametrize(
    ("asked", "kept"),
    [
        ("/inbox/abc?x=1", "/inbox/abc?x=1"),
        ("//evil.example/x", None),
        ("https://evil.example/", None),
        ("/\\evil.example", None),
        ("inbox", None),
        ("/inbox\r\nSet-Cookie: x", None),
        (None, None),
    ],
)
def test_only_local_paths_are_returned_to_after_signing_in(
    asked: str | None, kept: str | None
) -> None:
    assert local_path(asked) == kept


def test_the_upstream_timeout_is_five_seconds_unless_set() -> None:
    assert WebSettings().upstream_timeout == 5.0


def test_a_row_marks_overdue_by_words_and_an_icon_and_names_the_agencies() -> None:
    row = worklist.summary_of(a_view(overdue=True, missed_by_agency="nm-school-oakfield"))
    names = {"nm-hospital-ed": "Northmoor General Hospital", "nm-school-oakfield": "Oakfield"}
    html = (
        make_templates()
        .env.get_template("_row.html")
        .render(n=row, agency_name=lambda agency: names.get(agency, agency), matches=True)
    )
    assert 'class="is-overdue"' in html
    assert "</svg>Overdue</span>" in html
    assert 'data-overdue="true"' in html
    assert "Ava Stone, aged 7" in html
    assert "missed by Oakfield" in html
    assert "Northmoor General Hospital" in html
    assert "nm-" not in html.split('data-matches="true"', 1)[1]
