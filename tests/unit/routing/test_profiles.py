"""Sharing profiles: each recipient sees only what its profile allows."""

from __future__ import annotations

import json

import pytest

from schemas.v1.disclosure import DISCLOSABLE_FIELDS
from services.routing.profiles import apply_sharing_profile
from tests.builders import a_concern, the_reference_partnership


def profile(name: str) -> list[str]:
    return the_reference_partnership().sharing_profiles[name]


def test_school_sees_only_school_profile_fields() -> None:
    disclosure = apply_sharing_profile(a_concern(), profile("school"))
    shown = json.loads(disclosure.concern.model_dump_json())
    assert shown == {
        "subject": {
            "given_name": "Amelia",
            "family_name": "Stone",
            "date_of_birth": "2018-05-14",
            "school_urn": "100101",
        },
        "summary": "Child arrived at school hungry and withdrawn.",
    }
    assert disclosure.disclosed_fields == [
        "subject.date_of_birth",
        "subject.family_name",
        "subject.given_name",
        "subject.school_urn",
        "summary",
    ]


@pytest.mark.parametrize("name", ["full", "health", "school", "youth_justice"])
def test_withheld_fields_are_absent_from_the_json_not_blanked(name: str) -> None:
    fields = profile(name)
    shown = json.loads(apply_sharing_profile(a_concern(), fields).concern.model_dump_json())
    assert set(shown) == {field.split(".")[0] for field in fields}
    if "subject" not in fields:
        assert set(shown["subject"]) == {f.split(".")[1] for f in fields if "." in f}
    if "narrative" not in fields:
        assert "narrative" not in json.dumps(shown)


def test_youth_justice_sees_no_narrative_reporter_or_nhs_number() -> None:
    shown = json.loads(
        apply_sharing_profile(a_concern(), profile("youth_justice")).concern.model_dump_json()
    )
    assert set(shown) == {"subject", "summary", "location"}
    assert set(shown["subject"]) == {"given_name", "family_name", "date_of_birth"}


def test_full_profile_sees_every_part() -> None:
    disclosure = apply_sharing_profile(a_concern(), profile("full"))
    shown = json.loads(disclosure.concern.model_dump_json())
    assert set(shown) == {name for name in DISCLOSABLE_FIELDS if "." not in name}
    assert shown["subject"]["nhs_number"] == "9434765919"
    assert disclosure.disclosed_fields == sorted(shown)


def test_an_allowed_part_with_no_value_is_disclosed_as_unknown() -> None:
    concern = a_concern(location={"postcode": None}, subject={"nhs_number": None}, household=[])
    disclosure = apply_sharing_profile(concern, ["subject", "location", "household"])
    shown = json.loads(disclosure.concern.model_dump_json())
    assert shown["location"] == {"postcode": None}
    assert shown["subject"]["nhs_number"] is None
    assert shown["household"] == []
    assert disclosure.disclosed_fields == ["household", "location", "subject"]


def test_a_whole_subject_covers_its_single_fields() -> None:
    disclosure = apply_sharing_profile(a_concern(), ["subject.given_name", "subject", "summary"])
    assert disclosure.disclosed_fields == ["subject", "summary"]


def test_an_empty_profile_discloses_nothing() -> None:
    disclosure = apply_sharing_profile(a_concern(), [])
    assert disclosure.concern.model_dump_json() == "{}"
    assert disclosure.disclosed_fields == []


def test_an_unknown_profile_field_is_refused() -> None:
    with pytest.raises(ValueError, match=r"subject\.shoe_size"):
        apply_sharing_profile(a_concern(), ["summary", "subject.shoe_size"])
