"""Pure: working days and decision deadlines. No clock: every time is passed in.

Bank holidays come from the maintained `holidays` package, never from a list kept here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache

import holidays

from schemas.v1.concern import Severity
from services.partnership.decisions import BankHolidays, WithinWorkingDays, WorkingCalendar
from services.partnership.fields import AgencyKind
from services.partnership.model import Partnership


@cache
def bank_holidays(calendar: BankHolidays, year: int) -> frozenset[date]:
    """The bank holidays of one year, substitute days included (built once per year)."""
    return frozenset(holidays.country_holidays("GB", subdiv=calendar.subdivision, years=year))


def is_working_day(day: date, calendar: WorkingCalendar) -> bool:
    """Monday to Friday, and neither a bank holiday nor one of the partnership's closures."""
    return (
        day.weekday() < 5
        and day not in bank_holidays(calendar.calendar, day.year)
        and day not in calendar.closures
    )


def next_working_day(day: date, calendar: WorkingCalendar) -> date:
    """The first working day after this day."""
    day += timedelta(days=1)
    while not is_working_day(day, calendar):
        day += timedelta(days=1)
    return day


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a deadline is counted from an aware datetime, not a naive one")
    return moment


def add_working_days(moment: datetime, n: int, calendar: WorkingCalendar) -> datetime:
    """The same local clock time on the n-th working day after the moment, in UTC.

    A moment on a non-working day counts from 00:00 local time of the next working day.
    """
    if n < 0:
        raise ValueError("working days are counted forwards")
    zone = calendar.zone
    local = _aware(moment).astimezone(zone)
    day, clock = local.date(), local.time().replace(tzinfo=None)
    if not is_working_day(day, calendar):
        day, clock = next_working_day(day, calendar), time(0)
    for _ in range(n):
        day = next_working_day(day, calendar)
    # fold=0: a clock time that a change of clocks repeats or skips on that day is taken as
    # the earlier reading (never the case in Europe/London, whose changes fall on Sundays).
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


def decision_deadline(
    received_at: datetime,
    agency: str | AgencyKind,
    severity: Severity,
    partnership: Partnership,
) -> datetime:
    """When a recipient (agency id or kind) must decide on a notification of this severity."""
    within = partnership.decision_time(agency, severity)
    if isinstance(within, WithinWorkingDays):
        return add_working_days(received_at, within.working_days, partnership.working_days)
    # In UTC first: adding to a local time would add wall-clock hours across a change of clocks.
    return _aware(received_at).astimezone(UTC) + within


def is_decision_overdue(decide_by: datetime, decided_at: datetime | None, now: datetime) -> bool:
    """Whether the decision came, or is still awaited, after its deadline (at it is in time)."""
    return _aware(decided_at or now) > _aware(decide_by)
