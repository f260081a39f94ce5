"""Pure decisions of intake: is a submission new, a replay or a conflict; is it timely."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta
from enum import StrEnum

from schemas.v1 import ConcernSubmission

MAX_AGE_YEARS = 25
CLOCK_SKEW = timedelta(minutes=1)


class Resubmission(StrEnum):
    """How a submission relates to an earlier one with the same source reference."""

    NEW = "new"
    REPLAY = "replay"
    CONFLICT = "conflict"


def submission_digest(concern: ConcernSubmission) -> str:
    """A stable fingerprint of a submission's content (after normalisation)."""
    return hashlib.sha256(concern.model_dump_json().encode()).hexdigest()


def classify_resubmission(previous_digest: str | None, digest: str) -> Resubmission:
    """NEW without an earlier one; REPLAY if the same body came before; CONFLICT otherwise."""
    if previous_digest is None:
        return Resubmission.NEW
    return Resubmission.REPLAY if previous_digest == digest else Resubmission.CONFLICT


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year - years, day=28)


def timeliness_errors(concern: ConcernSubmission, now: datetime) -> list[tuple[str, str]]:
    """(field, message) for each date that is in the future or too far back."""
    errors: list[tuple[str, str]] = []
    today = now.date()
    born = concern.subject.date_of_birth
    if born > today:
        errors.append(("subject.date_of_birth", "must not be in the future"))
    elif born < _years_before(today, MAX_AGE_YEARS):
        errors.append(("subject.date_of_birth", f"must be within the last {MAX_AGE_YEARS} years"))
    for index, member in enumerate(concern.household):
        if member.date_of_birth is not None and member.date_of_birth > today:
            errors.append((f"household[{index}].date_of_birth", "must not be in the future"))
    # Clocks of agency systems run a little ahead of ours at times.
    if concern.occurred_at > now + CLOCK_SKEW:
        errors.append(("occurred_at", "must not be in the future"))
    return errors
