"""The v1 concern: validation a person can act on, normalised values, events re-readable later."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from schemas.v1 import DisclosedConcern, DisclosedSubject
from schemas.v1.concern import nhs_number_is_valid, normalise_postcode
from services.common.problems import field_path
from services.intake.policy import (
    Resubmission,
    classify_resubmission,
    submission_digest,
    timeliness_errors,
)
from tests.builders import a_concern, a_concern_body


@pytest.mark.parametrize("number", ["9434765919", "4010232137", "0000000000"])
def test_valid_nhs_numbers_pass_modulus_11(number: str) -> None:
    assert nhs_number_is_valid(number)


@pytest.mark.parametrize(
    "number", ["9434765918", "123456789", "12345678901", "abcdefghij", "0000000001"]
)
def test_invalid_nhs_numbers_fail(number: str) -> None:
    assert not nhs_number_is_valid(number)


def test_nhs_number_with_spaces_is_normalised() -> None:
    assert a_concern(subject={"nhs_number": "943 476 5919"}).subject.nhs_number == "9434765919"


@pytest.mark.parametrize(
    ("given", "normal"),
    [
        ("nm1 1aa", "NM1 1AA"),
        ("NM11AA", "NM1 1AA"),
        ("sw1a 1aa", "SW1A 1AA"),
        ("ev2  9zz", "EV2 9ZZ"),
    ],
)
def test_postcodes_are_normalised(given: str, normal: str) -> None:
    assert normalise_postcode(given) == normal


@pytest.mark.parametrize("bad", ["", "NM1", "12345", "NM1 1A", "NOT A POSTCODE"])
def test_malformed_postcodes_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="UK postcode"):
        normalise_postcode(bad)


def test_unknown_fields_are_refused_by_name() -> None:
    with pytest.raises(ValidationError) as error:
        a_concern(colour="blue")
    assert [field_path(e["loc"]) for e in error.value.errors()] == ["colour"]


def test_reporter_needs_a_way_to_be_reached() -> None:
    with pytest.raises(ValidationError, match="phone number or an email"):
        a_concern(reporter={"name": "A", "role": "B"})


def test_justification_required_unless_consent_given() -> None:
    with pytest.raises(ValidationError, match="justification is required"):
        a_concern(lawful_basis={"basis": "s.47", "consent": "not_sought_other"})
    assert (
        a_concern(lawful_basis={"basis": "s.47", "consent": "given"}).lawful_basis.justification
        is None
    )


def test_nested_errors_name_their_path() -> None:
    body = a_concern_body(household=[{"name": "", "relationship": "aunt"}])
    with pytest.raises(ValidationError) as error:
        a_concern(**body)
    assert field_path(error.value.errors()[0]["loc"]) == "household[0].name"


def test_withheld_parts_are_absent_not_null() -> None:
    disclosed = DisclosedConcern(
        summary="s", subject=DisclosedSubject(given_name="A", nhs_number=None)
    )
    assert disclosed.model_dump(mode="json") == {
        "summary": "s",
        "subject": {"given_name": "A", "nhs_number": None},
    }


NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def test_future_and_too_old_dates_are_reported_by_field() -> None:
    concern = a_concern(
        subject={"date_of_birth": "1990-01-01"},
        household=[{"name": "X", "relationship": "uncle", "date_of_birth": "2030-01-01"}],
        occurred_at="2026-11-24T12:05:00+00:00",
    )
    assert timeliness_errors(concern, NOW) == [
        ("subject.date_of_birth", "must be within the last 25 years"),
        ("household[0].date_of_birth", "must not be in the future"),
        ("occurred_at", "must not be in the future"),
    ]


def test_a_minute_of_clock_skew_is_tolerated() -> None:
    assert timeliness_errors(a_concern(occurred_at="2026-11-24T12:00:59+00:00"), NOW) == []


def test_resubmissions_are_classified_by_digest() -> None:
    digest = submission_digest(a_concern())
    assert classify_resubmission(None, digest) is Resubmission.NEW
    assert classify_resubmission(digest, submission_digest(a_concern())) is Resubmission.REPLAY
    assert (
        classify_resubmission(digest, submission_digest(a_concern(summary="x")))
        is Resubmission.CONFLICT
    )


def test_spacing_of_an_nhs_number_does_not_make_a_conflict() -> None:
    spaced = a_concern(subject={"nhs_number": "943 476 5919"})
    assert submission_digest(spaced) == submission_digest(a_concern())
