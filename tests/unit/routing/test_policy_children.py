"""Recognising the same child, and alerting social care when a child's concerns add up."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest

from schemas.v1.concern import Subject
from schemas.v1.events import ChronologyEntry
from services.routing import policy
from services.routing.policy import cumulative_alert_due, normalise_name
from tests.builders import RECEIVED, a_chronology_entry, a_concern, the_reference_partnership

SECRET = b"unit-test-child-index-key"


def a_subject(**changes: Any) -> Subject:
    return a_concern(subject=changes).subject


def child_match_keys(subject: Subject, secret: bytes = SECRET) -> list[str]:
    return policy.child_match_keys(subject, secret=secret)


def test_a_child_with_an_nhs_number_has_an_nhs_key_and_a_names_key() -> None:
    keys = child_match_keys(a_subject())
    assert [key.split(":")[0] for key in keys] == ["nhs", "names-dob"]


def test_a_child_without_an_nhs_number_matches_an_earlier_record_with_one_by_names() -> None:
    with_number = child_match_keys(a_subject())
    without = child_match_keys(a_subject(nhs_number=None))
    assert len(without) == 1
    assert set(without) & set(with_number)


def test_names_match_whatever_their_case_accents_spaces_and_hyphens() -> None:
    written_one_way = a_subject(nhs_number=None, given_name="Zoë-Anne", family_name="O'Brien")
    written_another = a_subject(nhs_number=None, given_name="ZOE ANNE", family_name="obrien")
    assert child_match_keys(written_one_way) == child_match_keys(written_another)
    assert normalise_name("  Zoë-Anne ") == "zoeanne"


def test_a_different_date_of_birth_is_a_different_child() -> None:
    one = child_match_keys(a_subject(nhs_number=None))
    other = child_match_keys(a_subject(nhs_number=None, date_of_birth="2018-05-15"))
    assert not set(one) & set(other)


def test_the_same_nhs_number_matches_whatever_the_names() -> None:
    one = child_match_keys(a_subject(given_name="Amelia"))
    other = child_match_keys(a_subject(given_name="Millie"))
    assert one[0] == other[0]
    assert one[1] != other[1]


def test_names_without_letters_give_no_names_key() -> None:
    assert [key.split(":")[0] for key in child_match_keys(a_subject(given_name="-"))] == ["nhs"]


def test_match_keys_do_not_hold_names_or_numbers_in_clear() -> None:
    joined = " ".join(child_match_keys(a_subject()))
    assert "9434765919" not in joined
    assert "amelia" not in joined.casefold()


def test_match_keys_depend_on_the_secret() -> None:
    assert not set(child_match_keys(a_subject())) & set(
        child_match_keys(a_subject(), secret=b"another-key")
    )


def test_an_nhs_number_key_is_not_its_plain_sha256() -> None:
    plain = hashlib.sha256(b"9434765919").hexdigest()
    assert child_match_keys(a_subject())[0] != "nhs:" + plain


def due(
    chronology: list[ChronologyEntry], already_alerted_days_before: float | None = None
) -> bool:
    alerted = (
        None
        if already_alerted_days_before is None
        else RECEIVED - timedelta(days=already_alerted_days_before)
    )
    return cumulative_alert_due(
        chronology,
        received_at=RECEIVED,
        partnership=the_reference_partnership(),
        already_alerted_at=alerted,
    )


def entries(*pairs: tuple[str, float]) -> list[ChronologyEntry]:
    return [a_chronology_entry(source_agency=agency, days_before=days) for agency, days in pairs]


@pytest.mark.parametrize(
    ("case", "pairs", "expected"),
    [
        (
            "three concerns from two agencies",
            [("nme-police", 30), ("nm-school-oakfield", 10), ("nme-police", 0)],
            True,
        ),
        (
            "three concerns from one agency",
            [("nme-police", 30), ("nme-police", 10), ("nme-police", 0)],
            False,
        ),
        ("two concerns from two agencies", [("nme-police", 10), ("nm-school-oakfield", 0)], False),
        (
            "one concern outside the window",
            [("nme-police", 91), ("nm-school-oakfield", 10), ("nme-police", 0)],
            False,
        ),
        (
            "the first concern exactly at the window's start",
            [("nme-police", 90), ("nm-school-oakfield", 10), ("nme-police", 0)],
            True,
        ),
        (
            "a concern after the one received now",
            [("nme-police", -1), ("nm-school-oakfield", 10), ("nme-police", 0)],
            False,
        ),
    ],
)
def test_cumulative_alert_is_due_when_thresholds_are_met_within_the_window(
    case: str, pairs: list[tuple[str, float]], expected: bool
) -> None:
    assert due(entries(*pairs)) is expected


def test_the_same_concern_twice_counts_once() -> None:
    first, second = entries(("nme-police", 10), ("nm-school-oakfield", 0))
    assert not due([first, second, first])


def test_an_alert_fires_once_per_threshold_crossing() -> None:
    chronology = entries(("nme-police", 30), ("nm-school-oakfield", 20), ("nme-police", 10))
    assert not due([*chronology, *entries(("nm-hospital-ed", 0))], already_alerted_days_before=10)


def test_a_fresh_set_of_concerns_after_an_alert_fires_again() -> None:
    before = entries(("nme-police", 60), ("nm-school-oakfield", 50), ("nme-police", 40))
    after = entries(("nme-police", 30), ("nm-hospital-ed", 20), ("nme-police", 0))
    assert not due([*before, *after[:2]], already_alerted_days_before=40)
    assert due([*before, *after], already_alerted_days_before=40)


def test_a_redelivered_concern_does_not_raise_its_alert_again() -> None:
    chronology = entries(("nme-police", 30), ("nm-school-oakfield", 20), ("nme-police", 0))
    assert due(chronology)
    assert not due(chronology, already_alerted_days_before=0)
