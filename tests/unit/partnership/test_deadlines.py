"""Working days and decision deadlines, with dates worked by hand and checked against `holidays`."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.v1.concern import Severity
from services.partnership import (
    AgencyKind,
    BankHolidays,
    WorkingCalendar,
    add_working_days,
    decision_deadline,
    is_decision_overdue,
    is_working_day,
)
from services.partnership.deadlines import bank_holidays
from tests.builders import the_reference_partnership

LONDON = ZoneInfo("Europe/London")
ENGLAND = WorkingCalendar()


def london(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A local clock time in London."""
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


def test_the_bank_holidays_the_dates_below_rest_on_come_from_the_library() -> None:
    christmas_2026 = {date(2026, 12, 25), date(2026, 12, 26), date(2026, 12, 28)}
    assert christmas_2026 <= bank_holidays(BankHolidays.ENGLAND_AND_WALES, 2026)
    assert date(2026, 12, 29) not in bank_holidays(BankHolidays.ENGLAND_AND_WALES, 2026)
    easter_2027 = {date(2027, 3, 26), date(2027, 3, 29)}
    assert easter_2027 <= bank_holidays(BankHolidays.ENGLAND_AND_WALES, 2027)
    assert date(2026, 8, 31) in bank_holidays(BankHolidays.ENGLAND_AND_WALES, 2026)
    assert date(2027, 1, 1) in bank_holidays(BankHolidays.ENGLAND_AND_WALES, 2027)
    # Scotland also keeps 2 January, a Saturday in 2027, on Monday the 4th.
    assert date(2027, 1, 4) in bank_holidays(BankHolidays.SCOTLAND, 2027)
    assert date(2027, 1, 4) not in bank_holidays(BankHolidays.ENGLAND_AND_WALES, 2027)


def test_the_holidays_of_a_year_are_built_once() -> None:
    first = bank_holidays(BankHolidays.ENGLAND_AND_WALES, 2031)
    assert bank_holidays(BankHolidays.ENGLAND_AND_WALES, 2031) is first


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 12, 24), True),  # Thursday
        (date(2026, 12, 25), False),  # Christmas Day, Friday
        (date(2026, 12, 26), False),  # Saturday
        (date(2026, 12, 27), False),  # Sunday
        (date(2026, 12, 28), False),  # Boxing Day observed, Monday
        (date(2026, 12, 29), True),
    ],
)
def test_working_days_skip_weekends_and_bank_holidays(day: date, working: bool) -> None:
    assert is_working_day(day, ENGLAND) is working


WORKED_BY_HAND = [
    (
        "christmas 2026: 25, 26 (Sat), 27 (Sun) and 28 (Boxing Day observed) are not working",
        london(2026, 12, 24, 15),
        1,
        london(2026, 12, 29, 15),
    ),
    ("friday to monday", london(2026, 11, 27, 15), 1, london(2026, 11, 30, 15)),
    (
        "saturday counts from monday 00:00, so it is due by the end of monday",
        london(2026, 11, 28, 10),
        1,
        london(2026, 12, 1, 0),
    ),
    (
        "a bank holiday counts from the next working day's 00:00",
        london(2026, 12, 25, 10),
        1,
        london(2026, 12, 30, 0),
    ),
    (
        "friday before the late summer bank holiday monday",
        london(2026, 8, 28, 15),
        1,
        london(2026, 9, 1, 15),
    ),
    ("new year's day 2027 is a friday", london(2026, 12, 31, 15), 1, london(2027, 1, 4, 15)),
    (
        "christmas 2027: 27 and 28 both observed",
        london(2027, 12, 24, 15),
        1,
        london(2027, 12, 29, 15),
    ),
    (
        "easter 2027 spans the change to summer time: the clock time is kept",
        london(2027, 3, 25, 15),
        1,
        london(2027, 3, 30, 15),
    ),
    (
        "the change back to winter time: the clock time is kept",
        london(2026, 10, 23, 15),
        1,
        london(2026, 10, 26, 15),
    ),
    ("three working days over christmas", london(2026, 12, 23, 9), 3, london(2026, 12, 30, 9)),
    ("no working days on a working day", london(2026, 12, 24, 15), 0, london(2026, 12, 24, 15)),
    ("no working days on a holiday", london(2026, 12, 25, 15), 0, london(2026, 12, 29, 0)),
]


@pytest.mark.parametrize(
    ("case", "moment", "n", "expected"), WORKED_BY_HAND, ids=[w[0] for w in WORKED_BY_HAND]
)
def test_working_days_are_added_as_worked_by_hand(
    case: str, moment: datetime, n: int, expected: datetime
) -> None:
    due = add_working_days(moment.astimezone(UTC), n, ENGLAND)
    assert due == expected
    assert due.tzinfo is UTC


def test_across_the_change_to_summer_time_the_utc_hour_moves() -> None:
    due = add_working_days(datetime(2027, 3, 25, 15, tzinfo=UTC), 1, ENGLAND)
    assert due == datetime(2027, 3, 30, 14, tzinfo=UTC)


def test_the_day_is_the_local_one_not_the_utc_one() -> None:
    # 23:30 UTC on Friday 28 August 2026 is 00:30 on Saturday in London, and Monday is a
    # bank holiday: it counts from Tuesday 00:00 and is due by the end of Tuesday.
    due = add_working_days(datetime(2026, 8, 28, 23, 30, tzinfo=UTC), 1, ENGLAND)
    assert due == london(2026, 9, 2, 0)


def test_a_closure_in_the_file_is_not_a_working_day() -> None:
    closed = WorkingCalendar(closures=[date(2026, 12, 24)])
    assert add_working_days(london(2026, 12, 23, 15), 1, closed) == london(2026, 12, 29, 15)
    assert add_working_days(london(2026, 12, 24, 11), 1, closed) == london(2026, 12, 30, 0)
    assert add_working_days(london(2026, 12, 23, 15), 1, ENGLAND) == london(2026, 12, 24, 15)


def test_another_calendar_keeps_its_own_bank_holidays() -> None:
    scotland = WorkingCalendar(calendar=BankHolidays.SCOTLAND)
    assert add_working_days(london(2026, 12, 31, 15), 1, scotland) == london(2027, 1, 5, 15)


def test_a_naive_moment_or_a_negative_count_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        add_working_days(datetime(2026, 12, 24, 15), 1, ENGLAND)
    with pytest.raises(ValueError, match="forwards"):
        add_working_days(london(2026, 12, 24, 15), -1, ENGLAND)


@settings(max_examples=200, deadline=None)
@given(
    moment=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31)),
    n=st.integers(min_value=1, max_value=10),
)
def test_a_working_day_deadline_lands_on_a_working_day_n_working_days_on(
    moment: datetime, n: int
) -> None:
    start = moment.replace(tzinfo=UTC)
    due = add_working_days(start, n, ENGLAND).astimezone(LONDON)
    local = start.astimezone(LONDON)
    assert due > start
    assert is_working_day(due.date(), ENGLAND)
    between = [
        local.date() + timedelta(days=d) for d in range(1, (due.date() - local.date()).days + 1)
    ]
    counted = sum(is_working_day(day, ENGLAND) for day in between)
    assert counted == (n if is_working_day(local.date(), ENGLAND) else n + 1)
    if is_working_day(local.date(), ENGLAND):
        assert due.time() == local.time().replace(tzinfo=None)
    else:
        assert due.time().hour == due.time().minute == 0


def test_childrens_social_care_decides_within_one_working_day() -> None:
    received = london(2026, 12, 24, 15).astimezone(UTC)
    for severity in Severity:
        due = decision_deadline(received, "nm-csc", severity, the_reference_partnership())
        assert due == london(2026, 12, 29, 15)


def test_other_kinds_decide_by_the_default_deadlines() -> None:
    received = london(2026, 12, 23, 9).astimezone(UTC)
    partnership = the_reference_partnership()
    assert decision_deadline(received, "nme-police", Severity.IMMEDIATE, partnership) == (
        london(2026, 12, 23, 13)
    )
    assert decision_deadline(received, "nm-school-oakfield", Severity.MEDIUM, partnership) == (
        london(2026, 12, 30, 9)
    )
    # Five working days: 24, 29, 30 and 31 December, then Monday 4 January (the 1st is a holiday).
    assert decision_deadline(received, AgencyKind.HEALTH, Severity.LOW, partnership) == (
        london(2027, 1, 4, 9)
    )


def test_a_duration_deadline_counts_real_hours_across_a_change_of_clocks() -> None:
    received = london(2027, 3, 28, 0, 30)  # GMT; clocks go forward at 01:00
    due = decision_deadline(received, "police", Severity.IMMEDIATE, the_reference_partnership())
    assert due == datetime(2027, 3, 28, 4, 30, tzinfo=UTC)
    assert due.astimezone(LONDON).hour == 5


def test_an_unknown_agency_has_no_decision_deadline() -> None:
    with pytest.raises(KeyError):
        decision_deadline(
            london(2026, 12, 24, 15), "nm-nobody", Severity.LOW, the_reference_partnership()
        )


DECIDE_BY = datetime(2026, 12, 29, 15, tzinfo=UTC)
INSTANT = timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("decided_at", "now", "overdue"),
    [
        (None, DECIDE_BY - INSTANT, False),
        (None, DECIDE_BY, False),
        (None, DECIDE_BY + INSTANT, True),
        (DECIDE_BY, DECIDE_BY + timedelta(days=3), False),
        (DECIDE_BY - timedelta(hours=2), DECIDE_BY + timedelta(days=3), False),
        (DECIDE_BY + INSTANT, DECIDE_BY + timedelta(days=3), True),
    ],
)
def test_a_decision_is_overdue_only_after_its_deadline(
    decided_at: datetime | None, now: datetime, overdue: bool
) -> None:
    assert is_decision_overdue(DECIDE_BY, decided_at, now) is overdue


def test_overdue_compares_moments_not_clock_readings() -> None:
    in_london = DECIDE_BY.astimezone(LONDON) + timedelta(seconds=1)
    assert is_decision_overdue(DECIDE_BY, None, in_london.astimezone(ZoneInfo("Asia/Tokyo")))
