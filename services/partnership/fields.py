"""Pure: the small value types a partnership file is written in (ids, durations, counts)."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictInt

Loc = tuple[str | int, ...]
# Years and months have no fixed length, so only weeks, days and times are accepted.
_ISO_DURATION = re.compile(
    r"^P(?:\d+W|(?=\d|T\d)(?:\d+D)?(?:T(?=\d)(?:\d+H)?(?:\d+M)?(?:\d+S)?)?)$"
)


def _iso_duration(value: object) -> object:
    if not isinstance(value, str) or not _ISO_DURATION.match(value):
        raise ValueError(
            f"{value!r} is not an ISO 8601 duration in weeks, days, hours, minutes or seconds "
            "(years and months vary in length), such as PT15M, P1D or P2W"
        )
    return value


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than zero")
    return value


Duration = Annotated[timedelta, BeforeValidator(_iso_duration), AfterValidator(_positive)]
Slug = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
Count = Annotated[StrictInt, Field(ge=1)]


def _label(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


Label = Annotated[str, AfterValidator(_label)]


class AgencyKind(StrEnum):
    """What an agency is; children's social care and schools have routing meaning."""

    CHILDRENS_SOCIAL_CARE = "childrens_social_care"
    POLICE = "police"
    SCHOOL = "school"
    HEALTH = "health"
    YOUTH_JUSTICE = "youth_justice"


class Strict(BaseModel):
    """A part of the file: no unknown keys, never changed once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def repeated(values: list[str | None]) -> set[str]:
    """The values that occur more than once (None never counts)."""
    return {v for v, count in Counter(values).items() if v is not None and count > 1}
