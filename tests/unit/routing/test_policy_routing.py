"""Routing decisions against the reference partnership, rule by rule and target by target."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from schemas.v1.concern import Severity
from services.routing.policy import (
    acknowledgement_deadline,
    age_when_received,
    decide_recipients,
    home_childrens_social_care,
    is_overdue,
)
from tests.builders import RECEIVED, a_concern, the_reference_partnership

HOME = "home-social-care"
INCIDENT = "incident-social-care"
NM_LOCAL = [HOME, INCIDENT]


def routed(source: str = "nme-police", **changes: Any) -> dict[str, list[str]]:
    decision = decide_recipients(
        a_concern(**changes),
        source_agency=source,
        received_at=RECEIVED,
        partnership=the_reference_partnership(),
    )
    return {recipient.agency: list(recipient.reasons) for recipient in decision.recipients}


RULE_CASES: list[tuple[str, dict[str, Any], dict[str, list[str]]]] = [
    ("a plain concern goes to home social care", {}, {"nm-csc": NM_LOCAL}),
    (
        "an incident in another area adds that area's social care",
        {"location": {"postcode": "EV1 2AB"}},
        {"nm-csc": [HOME], "ev-csc": [INCIDENT]},
    ),
    (
        "a high severity concern goes to the police",
        {"severity": "high", "source_reference": "R-2"},
        {"nm-csc": NM_LOCAL, "nme-police": ["police-serious-harm"]},
    ),
    (
        "an immediate concern goes to the police",
        {"severity": "immediate"},
        {"nm-csc": NM_LOCAL, "nme-police": ["police-serious-harm"]},
    ),
    (
        "an offence category goes to the police",
        {"category": "fgm"},
        {"nm-csc": NM_LOCAL, "nme-police": ["police-offence-categories"]},
    ),
    (
        "a police recipient names every rule that sent it, in file order",
        {"category": "sexual_abuse", "severity": "high"},
        {"nm-csc": NM_LOCAL, "nme-police": ["police-serious-harm", "police-offence-categories"]},
    ),
    (
        "neglect goes to the child's school",
        {"category": "neglect"},
        {"nm-csc": NM_LOCAL, "nm-school-oakfield": ["school-of-child"]},
    ),
    (
        "the school is found by the child's urn, whichever area it is in",
        {"category": "neglect", "subject": {"school_urn": "200303"}},
        {"nm-csc": NM_LOCAL, "ev-school-hilltop": ["school-of-child"]},
    ),
    (
        "an unknown school urn adds no school",
        {"category": "neglect", "subject": {"school_urn": "999999"}},
        {"nm-csc": NM_LOCAL},
    ),
    (
        "a child without a school urn adds no school",
        {"category": "neglect", "subject": {"school_urn": None}},
        {"nm-csc": NM_LOCAL},
    ),
    (
        "a child under five in northmoor goes to health visiting",
        {"subject": {"date_of_birth": "2022-01-01"}},
        {"nm-csc": NM_LOCAL, "nm-health-visiting": ["health-visiting-under-5"]},
    ),
    (
        "a child on their fifth birthday is not under five",
        {"subject": {"date_of_birth": "2021-11-16"}},
        {"nm-csc": NM_LOCAL},
    ),
    (
        "a child under five living in eastvale does not go to northmoor health visiting",
        {"subject": {"date_of_birth": "2022-01-01", "postcode": "EV1 1AA"}},
        {"ev-csc": [HOME], "nm-csc": [INCIDENT]},
    ),
    (
        "self harm goes to camhs and the school",
        {"category": "self_harm"},
        {
            "nm-csc": NM_LOCAL,
            "nm-school-oakfield": ["school-of-child"],
            "nme-camhs": ["camhs-self-harm"],
        },
    ),
    (
        "exploitation of a child of ten goes to youth justice",
        {"category": "child_exploitation", "subject": {"date_of_birth": "2016-11-16"}},
        {
            "nm-csc": NM_LOCAL,
            "nme-police": ["police-offence-categories"],
            "nm-yjs": ["yjs-exploitation"],
        },
    ),
    (
        "exploitation of a child of nine does not go to youth justice",
        {"category": "child_exploitation", "subject": {"date_of_birth": "2016-11-17"}},
        {"nm-csc": NM_LOCAL, "nme-police": ["police-offence-categories"]},
    ),
    (
        "a child in eastvale goes to eastvale social care without fallback",
        {"subject": {"postcode": "EV2 9ZZ"}, "location": {"postcode": None}},
        {"ev-csc": [HOME]},
    ),
    (
        "an incident area alone is enough to avoid the fallback",
        {"subject": {"postcode": None}, "location": {"postcode": "EV1 1AA"}},
        {"ev-csc": [INCIDENT]},
    ),
    (
        "no postcodes at all fall back to the fallback agency",
        {"subject": {"postcode": None}, "location": {"postcode": None}},
        {"nm-csc": ["fallback"]},
    ),
    (
        "postcodes outside the partnership fall back to the fallback agency",
        {"subject": {"postcode": "ZZ9 9ZZ"}, "location": {"postcode": "AB1 2CD"}},
        {"nm-csc": ["fallback"]},
    ),
    (
        "the fallback joins rule recipients that are not social care",
        {"subject": {"postcode": None}, "location": {"postcode": None}, "severity": "high"},
        {"nme-police": ["police-serious-harm"], "nm-csc": ["fallback"]},
    ),
]


@pytest.mark.parametrize(
    ("case", "changes", "expected"), RULE_CASES, ids=[c[0] for c in RULE_CASES]
)
def test_each_rule_adds_its_recipients_with_its_reasons(
    case: str, changes: dict[str, Any], expected: dict[str, list[str]]
) -> None:
    assert routed(source="some-other-agency", **changes) == expected


SOURCE_CASES: list[tuple[str, str, dict[str, Any], dict[str, list[str]]]] = [
    (
        "the police never receive their own concern",
        "nme-police",
        {"severity": "high"},
        {"nm-csc": NM_LOCAL},
    ),
    (
        "a school never receives its own concern",
        "nm-school-oakfield",
        {"category": "neglect"},
        {"nm-csc": NM_LOCAL},
    ),
    ("social care raising a concern adds no fallback on its account", "nm-csc", {}, {}),
    (
        "social care raising a concern still lets other rules route it",
        "nm-csc",
        {"severity": "high"},
        {"nme-police": ["police-serious-harm"]},
    ),
    (
        "the fallback agency is not sent its own concern when it would be the fallback",
        "nm-csc",
        {"subject": {"postcode": None}, "location": {"postcode": None}},
        {},
    ),
    (
        "another area's social care raising an unplaced concern still adds the fallback",
        "ev-csc",
        {"subject": {"postcode": None}, "location": {"postcode": None}},
        {"nm-csc": ["fallback"]},
    ),
    (
        "social care of the incident area raising it leaves the home area as recipient",
        "ev-csc",
        {"location": {"postcode": "EV1 2AB"}},
        {"nm-csc": [HOME]},
    ),
]


@pytest.mark.parametrize(
    ("case", "source", "changes", "expected"), SOURCE_CASES, ids=[c[0] for c in SOURCE_CASES]
)
def test_source_agency_never_receives_its_own_concern(
    case: str, source: str, changes: dict[str, Any], expected: dict[str, list[str]]
) -> None:
    assert routed(source=source, **changes) == expected


def test_every_recipient_carries_its_profile_fields_and_deadline() -> None:
    decision = decide_recipients(
        a_concern(category="neglect", severity="high"),
        source_agency="nme-police",
        received_at=RECEIVED,
        partnership=the_reference_partnership(),
    )
    school = next(r for r in decision.recipients if r.agency == "nm-school-oakfield")
    assert school.profile == "school"
    assert "narrative" not in school.fields
    assert {r.acknowledge_by for r in decision.recipients} == {RECEIVED + timedelta(hours=1)}
    assert decision.policy_version == "2026.11.1"
    assert (decision.home_local_authority, decision.incident_local_authority) == ("northmoor",) * 2


@pytest.mark.parametrize(
    ("date_of_birth", "received", "age"),
    [
        ("2016-02-29", "2021-02-28T12:00:00+00:00", 4),
        ("2016-02-29", "2021-03-01T00:00:00+00:00", 5),
        ("2016-02-29", "2024-02-28T23:59:59+00:00", 7),
        ("2016-02-29", "2024-02-29T00:00:00+00:00", 8),
        ("2018-05-14", "2026-05-13T23:59:59+00:00", 7),
        ("2018-05-14", "2026-05-14T00:00:00+00:00", 8),
        # 23:30 the day before in a UTC-2 zone is already the birthday in UTC.
        ("2018-05-14", "2026-05-13T23:30:00-02:00", 8),
        ("2018-05-14", "2026-05-14T00:30:00+02:00", 7),
    ],
)
def test_age_is_whole_years_on_the_utc_day_received(
    date_of_birth: str, received: str, age: int
) -> None:
    born = date.fromisoformat(date_of_birth)
    assert age_when_received(born, datetime.fromisoformat(received)) == age


def test_a_naive_received_time_is_taken_as_utc() -> None:
    assert age_when_received(date(2018, 5, 14), datetime(2026, 5, 14, 0, 0)) == 8


@pytest.mark.parametrize(
    ("severity", "within"),
    [
        (Severity.IMMEDIATE, timedelta(minutes=15)),
        (Severity.HIGH, timedelta(hours=1)),
        (Severity.MEDIUM, timedelta(days=1)),
        (Severity.LOW, timedelta(days=3)),
    ],
)
def test_acknowledgement_deadline_is_received_time_plus_ack_within(
    severity: Severity, within: timedelta
) -> None:
    deadline = acknowledgement_deadline(RECEIVED, severity, the_reference_partnership())
    assert deadline == RECEIVED + within


def test_a_notification_is_overdue_only_after_its_deadline() -> None:
    deadline = RECEIVED + timedelta(minutes=15)
    assert not is_overdue(deadline, deadline - timedelta(seconds=1))
    assert not is_overdue(deadline, deadline)
    assert is_overdue(deadline, deadline + timedelta(microseconds=1))
    assert is_overdue(
        deadline, (deadline + timedelta(seconds=1)).astimezone(UTC).replace(tzinfo=None)
    )


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ({"postcode": "NM3 4AB"}, "nm-csc"),
        ({"postcode": "EV1 4AB"}, "ev-csc"),
        ({"postcode": "ZZ9 9ZZ"}, "nm-csc"),
        ({"postcode": None}, "nm-csc"),
    ],
)
def test_home_childrens_social_care_is_the_home_areas_else_the_fallback(
    subject: dict[str, Any], expected: str
) -> None:
    concern = a_concern(subject=subject, location={"postcode": "EV2 1AA"})
    assert home_childrens_social_care(concern, the_reference_partnership()) == expected
