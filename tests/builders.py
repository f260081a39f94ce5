"""Small builders of valid test values: a test changes only what it is about."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from uuid import uuid4

from schemas.v1.concern import ConcernSubmission
from schemas.v1.events import ChronologyEntry, ConcernReceived, ConcernReceivedPayload, Submitter
from services.partnership import Partnership, default_partnership_path, load_partnership

RECEIVED = datetime(2026, 11, 16, 9, 30, tzinfo=UTC)
GIVEN_NAMES = ("Amelia", "Noah", "Isla", "Leo", "Ava", "Oscar", "Mia", "Jack", "Freya", "Theo")
SOME_CATEGORIES = ("neglect", "emotional_abuse", "physical_abuse", "online_harm", "other")
SEVERITIES = ("low", "medium", "high", "immediate")


def a_concern(**changes: Any) -> ConcernSubmission:
    """A valid medium concern about an 8-year-old at Oakfield Primary, living in Northmoor.

    `subject` and `location` given as dicts are merged into the defaults; anything else replaces.
    """
    subject = {
        "given_name": "Amelia",
        "family_name": "Stone",
        "date_of_birth": "2018-05-14",
        "nhs_number": "9434765919",
        "postcode": "NM1 1AA",
        "school_urn": "100101",
    } | changes.pop("subject", {})
    location = {"postcode": "NM1 1AA"} | changes.pop("location", {})
    body = {
        "source_reference": "REF-0001",
        "category": "other",
        "severity": "medium",
        "subject": subject,
        "household": [{"name": "Dana Stone", "relationship": "mother"}],
        "summary": "Child arrived at school hungry and withdrawn.",
        "narrative": "Full account of what was seen and said.",
        "location": location,
        "reporter": {
            "name": "Sam Reid",
            "role": "Designated safeguarding lead",
            "phone": "01234 567890",
        },
        "lawful_basis": {"basis": "Children Act 1989 s.47", "consent": "given"},
        "occurred_at": "2026-11-15T18:00:00+00:00",
    } | changes
    return ConcernSubmission.model_validate(body)


@cache
def the_reference_partnership() -> Partnership:
    """The shipped northmoor-eastvale partnership, loaded once."""
    return load_partnership(default_partnership_path())


def a_partnership(**changes: Any) -> Partnership:
    """The reference partnership with some top-level fields replaced (not re-validated)."""
    return the_reference_partnership().model_copy(update=changes)


def a_chronology_entry(
    *, source_agency: str, days_before: float, received: datetime = RECEIVED, **changes: Any
) -> ChronologyEntry:
    """A concern in a child's chronology, received some days before `received`."""
    at = received - timedelta(days=days_before)
    body = {
        "concern_id": uuid4(),
        "received_at": at,
        "occurred_at": at,
        "category": "neglect",
        "severity": "medium",
        "source_agency": source_agency,
    } | changes
    return ChronologyEntry.model_validate(body)


def a_concern_body(**changes: Any) -> dict[str, Any]:
    """A valid concern as the JSON an agency system posts, with a unique source reference."""
    body = a_concern(source_reference=f"REF-{uuid4().hex[:12]}").model_dump(mode="json")
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(body.get(key), dict):
            body[key] = body[key] | value
        else:
            body[key] = value
    return body


def an_nhs_number() -> str:
    """A random NHS number with a valid Modulus 11 check digit, unique enough for one run."""
    while True:
        digits = [int(d) for d in f"{uuid4().int % 10**9:09d}"]
        check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        if check != 10:
            return "".join(map(str, digits)) + str(0 if check == 11 else check)


def a_family_name() -> str:
    """A random family name of letters only, so each test's child is a child of its own."""
    return "Test" + "".join(chr(ord("a") + int(d)) for d in f"{uuid4().int % 10**12:012d}")


def a_received_concern(
    *, source_agency: str = "nm-hospital-ed", received: datetime = RECEIVED, **changes: Any
) -> ConcernReceived:
    """A concern as published on concerns.received, with fresh ids; `changes` go to a_concern."""
    return ConcernReceived(
        correlation_id=f"test-{uuid4().hex[:12]}",
        payload=ConcernReceivedPayload(
            concern_id=uuid4(),
            source_agency=source_agency,
            received_at=received,
            submitted_by=Submitter(subject="tester", role="agency_system"),
            concern=a_concern(**changes),
        ),
    )


def an_nhs_number_from(rng: random.Random) -> str:
    """An NHS number with a valid Modulus 11 check digit, drawn from `rng`."""
    while True:
        digits = [rng.randrange(10) for _ in range(9)]
        check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        if check != 10:
            return "".join(map(str, digits)) + str(0 if check == 11 else check)


def a_drawn_concern_body(rng: random.Random, *, reference: str) -> dict[str, Any]:
    """A valid concern body about a child of its own, drawn from `rng` so that a seed replays it."""
    today = datetime.now(UTC).date()
    born = today - timedelta(days=rng.randrange(365 * 2, 365 * 16))
    family = "Test" + "".join(chr(ord("a") + rng.randrange(26)) for _ in range(10))
    return {
        "source_reference": reference,
        "category": rng.choice(SOME_CATEGORIES),
        "severity": rng.choice(SEVERITIES),
        "subject": {
            "given_name": rng.choice(GIVEN_NAMES),
            "family_name": family,
            "date_of_birth": born.isoformat(),
            "nhs_number": an_nhs_number_from(rng),
            "postcode": "NM1 1AA",
            "school_urn": "100101",
        },
        "household": [{"name": f"Dana {family}", "relationship": "mother"}],
        "summary": "Child arrived at school hungry and withdrawn.",
        "narrative": "Full account of what was seen and said. " * 8,
        "location": {"postcode": "NM1 1AA"},
        "reporter": {
            "name": "Sam Reid",
            "role": "Designated safeguarding lead",
            "phone": "01234 567890",
        },
        "lawful_basis": {"basis": "Children Act 1989 s.47", "consent": "given"},
        "occurred_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
    }
