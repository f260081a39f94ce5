"""Invariants of routing that hold for any concern from any agency."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from schemas.v1.concern import Category, ConcernSubmission, Severity
from services.partnership import AgencyKind
from services.routing.policy import decide_recipients
from services.routing.profiles import apply_sharing_profile
from tests.builders import a_concern, the_reference_partnership

PARTNERSHIP = the_reference_partnership()
POSTCODES = [None, "NM1 1AA", "NM2 3BB", "NM3 9ZZ", "EV1 1AA", "EV2 4CD", "ZZ9 9ZZ", "AB1 2CD"]
SOURCES = [agency.id for agency in PARTNERSHIP.agencies] + ["an-agency-outside-the-partnership"]
RECEIVED_TIMES = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
)


@st.composite
def concerns(draw: st.DrawFn) -> ConcernSubmission:
    changes: dict[str, Any] = {
        "category": draw(st.sampled_from(Category)),
        "severity": draw(st.sampled_from(Severity)),
        "subject": {
            "date_of_birth": draw(st.dates(min_value=date(2005, 1, 1), max_value=date(2035, 1, 1))),
            "postcode": draw(st.sampled_from(POSTCODES)),
            "school_urn": draw(st.sampled_from([None, "100101", "100202", "200303", "999999"])),
            "nhs_number": draw(st.sampled_from([None, "9434765919"])),
        },
        "location": {"postcode": draw(st.sampled_from(POSTCODES))},
    }
    return a_concern(**changes)


def is_childrens_social_care(agency_id: str) -> bool:
    return any(
        agency.id == agency_id and agency.kind is AgencyKind.CHILDRENS_SOCIAL_CARE
        for agency in PARTNERSHIP.agencies
    )


@given(concerns(), st.sampled_from(SOURCES), RECEIVED_TIMES)
def test_a_concern_is_never_sent_to_its_source(
    concern: ConcernSubmission, source: str, received_at: datetime
) -> None:
    decision = decide_recipients(
        concern, source_agency=source, received_at=received_at, partnership=PARTNERSHIP
    )
    assert source not in decision.agencies


@given(concerns(), st.sampled_from(SOURCES), RECEIVED_TIMES)
def test_a_concern_is_never_unrouted_some_childrens_social_care_holds_it(
    concern: ConcernSubmission, source: str, received_at: datetime
) -> None:
    decision = decide_recipients(
        concern, source_agency=source, received_at=received_at, partnership=PARTNERSHIP
    )
    holders = [*decision.agencies, source]
    assert any(is_childrens_social_care(agency) for agency in holders)


@given(concerns(), st.sampled_from(SOURCES), RECEIVED_TIMES)
def test_every_recipient_is_named_once_with_reasons_and_the_severity_deadline(
    concern: ConcernSubmission, source: str, received_at: datetime
) -> None:
    decision = decide_recipients(
        concern, source_agency=source, received_at=received_at, partnership=PARTNERSHIP
    )
    assert len(set(decision.agencies)) == len(decision.agencies)
    deadline = received_at + PARTNERSHIP.ack_within[concern.severity]
    for recipient in decision.recipients:
        assert recipient.reasons
        assert len(set(recipient.reasons)) == len(recipient.reasons)
        assert recipient.acknowledge_by == deadline
    fallback_reasons = [a for a, reason in decision.reasons() if reason == "fallback"]
    assert fallback_reasons in ([], [PARTNERSHIP.fallback_agency.id])
    if fallback_reasons:
        assert not any(
            is_childrens_social_care(agency)
            for agency in decision.agencies
            if agency != fallback_reasons[0]
        )


@given(concerns(), st.sampled_from(SOURCES), RECEIVED_TIMES)
def test_no_recipient_is_ever_shown_a_field_outside_its_profile(
    concern: ConcernSubmission, source: str, received_at: datetime
) -> None:
    decision = decide_recipients(
        concern, source_agency=source, received_at=received_at, partnership=PARTNERSHIP
    )
    for recipient in decision.recipients:
        allowed = set(recipient.fields)
        disclosure = apply_sharing_profile(concern, recipient.fields)
        assert set(disclosure.disclosed_fields) <= allowed
        shown = json.loads(disclosure.concern.model_dump_json())
        for part, value in shown.items():
            if part == "subject" and "subject" not in allowed:
                assert {f"subject.{name}" for name in value} <= allowed
            else:
                assert part in allowed


@given(concerns(), st.sampled_from(SOURCES), RECEIVED_TIMES, st.integers(0, 86_399))
def test_the_decision_depends_only_on_the_utc_day_for_age(
    concern: ConcernSubmission, source: str, received_at: datetime, seconds: int
) -> None:
    midnight = received_at.replace(hour=0, minute=0, second=0, microsecond=0)
    later_same_day = midnight + timedelta(seconds=seconds)
    one = decide_recipients(
        concern, source_agency=source, received_at=midnight, partnership=PARTNERSHIP
    )
    other = decide_recipients(
        concern, source_agency=source, received_at=later_same_day, partnership=PARTNERSHIP
    )
    assert one.reasons() == other.reasons()
