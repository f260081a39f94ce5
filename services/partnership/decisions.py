"""Pure: what a recipient may decide (codes per agency kind) and by when, and their checks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Discriminator, Field, Tag

from schemas.v1.concern import Severity
from services.partnership.fields import (
    AgencyKind,
    Count,
    Duration,
    Label,
    Loc,
    Slug,
    Strict,
)

if TYPE_CHECKING:
    from datetime import timedelta

    from services.partnership.model import Agency

DEFAULT = "default"
T = TypeVar("T")


def _kind_or_default(value: str) -> str:
    if value != DEFAULT and value not in set(AgencyKind):
        known = ", ".join([*AgencyKind, DEFAULT])
        raise ValueError(f"unknown agency kind {value!r}; known: {known}")
    return value


KindOrDefault = Annotated[str, AfterValidator(_kind_or_default)]


class DecisionCode(Strict):
    """One decision a recipient of some agency kind may record, with the words people read."""

    code: Slug
    label: Label


class WithinWorkingDays(Strict):
    """A deadline counted in working days: the same local time on the n-th working day after."""

    working_days: Count


def _decision_time_shape(value: object) -> str | None:
    if isinstance(value, str):
        return "(duration)"
    if isinstance(value, dict | WithinWorkingDays):
        return "(working days)"
    return None


# The tags are in brackets so that place() leaves them out of a problem's place in the file.
DecisionTime = Annotated[
    Annotated[Duration, Tag("(duration)")] | Annotated[WithinWorkingDays, Tag("(working days)")],
    Discriminator(
        _decision_time_shape,
        custom_error_type="decision_time",
        custom_error_message="give an ISO 8601 duration such as PT4H, or {working_days: N}",
    ),
]


class BankHolidays(StrEnum):
    """Whose bank holidays are not working days (from the `holidays` package's data)."""

    ENGLAND_AND_WALES = "england_and_wales"
    SCOTLAND = "scotland"
    NORTHERN_IRELAND = "northern_ireland"

    @property
    def subdivision(self) -> str:
        """The United Kingdom subdivision whose holidays these are, as `holidays` names it."""
        # England and Wales share their bank holidays; "ENG" stands for both.
        return {"england_and_wales": "ENG", "scotland": "SCT", "northern_ireland": "NIR"}[self]


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone such as Europe/London") from None
    return value


class WorkingCalendar(Strict):
    """Which days are working days, and the clock a working-day deadline keeps."""

    calendar: BankHolidays = BankHolidays.ENGLAND_AND_WALES
    timezone: Annotated[str, AfterValidator(_time_zone)] = "Europe/London"
    closures: list[date] = Field(default_factory=list)

    @property
    def zone(self) -> ZoneInfo:
        """The time zone whose local clock working-day deadlines keep."""
        return ZoneInfo(self.timezone)


DecisionCodes = dict[KindOrDefault, Annotated[list[DecisionCode], Field(min_length=1)]]
DecideWithin = dict[KindOrDefault, dict[Severity, DecisionTime]]


def for_kind(by_kind: Mapping[str, T], kind: str) -> T | None:
    """The entry of an agency kind, or the default one when the kind has none."""
    return by_kind.get(kind, by_kind.get(DEFAULT))


def _repeats(values: Sequence[object]) -> list[int]:
    return [j for j, value in enumerate(values) if values.index(value) != j]


def _uncovered(
    agencies: Sequence[Agency], section: str, by_kind: Mapping[str, object], what: str
) -> list[tuple[Loc, str]]:
    first_of_kind: dict[str, Agency] = {}
    for agency in agencies:
        first_of_kind.setdefault(agency.kind.value, agency)
    return [
        (
            (section,),
            f"no {what} for agency kind {kind} (agency {agency.id}): "
            f"give {section}.{kind} or {section}.{DEFAULT}",
        )
        for kind, agency in first_of_kind.items()
        if for_kind(by_kind, kind) is None
    ]


def decision_problems(
    agencies: Sequence[Agency],
    decisions: Mapping[str, list[DecisionCode]],
    decide_within: Mapping[str, Mapping[Severity, timedelta | WithinWorkingDays]],
    calendar: WorkingCalendar,
) -> list[tuple[Loc, str]]:
    """Repeated codes or closures, and agency kinds left without codes or decision deadlines."""
    problems: list[tuple[Loc, str]] = []
    for kind, codes in decisions.items():
        for j in _repeats([c.code for c in codes]):
            problems.append((("decisions", kind, j, "code"), f"{codes[j].code!r} is listed twice"))
    for kind, deadlines in decide_within.items():
        missing = [severity.value for severity in Severity if severity not in deadlines]
        if missing:
            reason = f"no deadline for severity {', '.join(missing)}"
            problems.append((("decide_within", kind), reason))
    problems += _uncovered(agencies, "decisions", decisions, "decision codes")
    problems += _uncovered(agencies, "decide_within", decide_within, "decision deadlines")
    for j in _repeats(calendar.closures):
        problems.append(
            (("working_days", "closures", j), f"{calendar.closures[j]} is listed twice")
        )
    return problems
