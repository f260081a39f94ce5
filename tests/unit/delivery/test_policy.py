"""Delivery's retry policy: the schedule, its jitter, Retry-After, what is retried, the window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.v1 import AuditAction
from schemas.v1.delivery import DeliveryStatus
from services.delivery.policy import (
    AttemptResult,
    Lease,
    NextStep,
    RetrySchedule,
    Verdict,
    after_attempt,
    claim_size,
    classify,
    retry_after,
)

NOW = datetime(2026, 11, 16, 9, 30, tzinfo=UTC)
DEFAULT = RetrySchedule()
DAY = timedelta(days=1)


def test_default_schedule_starts_at_five_seconds_doubles_and_stops_at_ten_minutes() -> None:
    ceilings = [DEFAULT.ceiling(n).total_seconds() for n in range(1, 11)]
    assert ceilings == [5, 10, 20, 40, 80, 160, 320, 600, 600, 600]
    assert DEFAULT.ceiling(10_000) == timedelta(minutes=10)


@given(attempts=st.integers(1, 500), draw=st.floats(0, 1, exclude_max=True))
def test_equal_jitter_waits_between_half_and_all_of_the_ceiling(attempts: int, draw: float) -> None:
    ceiling = DEFAULT.ceiling(attempts)
    assert ceiling / 2 <= DEFAULT.wait(attempts, draw) <= ceiling


@given(attempts=st.integers(1, 500), draw=st.floats(0, 1, exclude_max=True))
def test_full_jitter_waits_up_to_the_ceiling(attempts: int, draw: float) -> None:
    schedule = RetrySchedule(jitter="full")
    assert timedelta(0) <= schedule.wait(attempts, draw) <= schedule.ceiling(attempts)


@given(attempts=st.integers(1, 10_000), draw=st.floats(0, 1, exclude_max=True))
def test_no_two_attempts_are_ever_more_than_ten_minutes_apart(attempts: int, draw: float) -> None:
    step = after_attempt(
        AttemptResult(status_code=503, retry_after="86400"), attempts=attempts,
        window_started_at=NOW, window=timedelta(days=365), now=NOW, schedule=DEFAULT, draw=draw,
    )  # fmt: skip
    assert step.next_attempt_at is not None
    assert step.next_attempt_at - NOW <= timedelta(minutes=10)


@pytest.mark.parametrize(
    ("result", "verdict"),
    [
        (AttemptResult(status_code=200), Verdict.DELIVERED),
        (AttemptResult(status_code=204), Verdict.DELIVERED),
        (AttemptResult(), Verdict.DELIVERED),  # a feed record the broker acknowledged
        (AttemptResult(error="timeout"), Verdict.RETRY),
        (AttemptResult(error="connection"), Verdict.RETRY),
        (AttemptResult(status_code=500), Verdict.RETRY),
        (AttemptResult(status_code=502), Verdict.RETRY),
        (AttemptResult(status_code=503), Verdict.RETRY),
        (AttemptResult(status_code=408), Verdict.RETRY),
        (AttemptResult(status_code=409), Verdict.RETRY),
        (AttemptResult(status_code=429), Verdict.RETRY),
        (AttemptResult(status_code=400), Verdict.FAILED),
        (AttemptResult(status_code=401), Verdict.FAILED),
        (AttemptResult(status_code=403), Verdict.FAILED),
        (AttemptResult(status_code=404), Verdict.FAILED),
        (AttemptResult(status_code=422), Verdict.FAILED),
        (AttemptResult(status_code=301), Verdict.FAILED),  # redirects are not followed
        (AttemptResult(status_code=307), Verdict.FAILED),
        (AttemptResult(status_code=410), Verdict.DISABLE),
        (AttemptResult(error="secret_missing"), Verdict.FAILED),
    ],
)
def test_what_is_retried(result: AttemptResult, verdict: Verdict) -> None:
    assert classify(result) is verdict


def test_failure_reasons_are_a_word_never_a_body() -> None:
    assert AttemptResult(status_code=503).reason == "http_503"
    assert AttemptResult(error="timeout").reason == "timeout"
    assert AttemptResult(status_code=200).reason is None


@pytest.mark.parametrize(
    ("header", "wait"),
    [
        ("120", timedelta(seconds=120)),
        (" 7 ", timedelta(seconds=7)),
        ("Mon, 16 Nov 2026 09:31:00 GMT", timedelta(seconds=60)),
        ("Mon, 16 Nov 2026 09:00:00 GMT", timedelta(0)),
        ("soon", None),
        (None, None),
    ],
)
def test_retry_after_in_seconds_or_as_a_date(header: str | None, wait: timedelta | None) -> None:
    assert retry_after(header, NOW) == wait


def step_after(
    result: AttemptResult, *, attempts: int = 1, started: datetime = NOW, draw: float = 0.0
) -> NextStep:
    return after_attempt(result, attempts=attempts, window_started_at=started, window=DAY,
                         now=NOW, schedule=DEFAULT, draw=draw)  # fmt: skip


def test_a_delivered_attempt_is_audited_as_succeeded() -> None:
    step = step_after(AttemptResult(status_code=200))
    assert step.status is DeliveryStatus.DELIVERED
    assert step.actions == (AuditAction.DELIVERY_SUCCEEDED,)
    assert step.next_attempt_at is None


def test_a_retried_failure_stays_pending_until_its_jittered_wait() -> None:
    step = step_after(AttemptResult(status_code=500), attempts=3, draw=0.5)
    assert step.status is DeliveryStatus.PENDING
    assert step.next_attempt_at == NOW + timedelta(seconds=15)  # 20 s ceiling, equal jitter
    assert step.actions == (AuditAction.DELIVERY_FAILED,)


def test_retry_after_on_429_and_503_lengthens_the_wait() -> None:
    for status in (429, 503):
        step = step_after(AttemptResult(status_code=status, retry_after="90"))
        assert step.next_attempt_at == NOW + timedelta(seconds=90)


def test_retry_after_never_shortens_the_wait_and_is_ignored_on_other_statuses() -> None:
    assert step_after(AttemptResult(status_code=429, retry_after="0"), attempts=4).next_attempt_at \
        == NOW + timedelta(seconds=20)  # fmt: skip
    assert step_after(AttemptResult(status_code=500, retry_after="90")).next_attempt_at \
        == NOW + timedelta(seconds=2.5)  # fmt: skip


def test_past_the_window_a_retried_failure_is_dead_lettered() -> None:
    started = NOW - DAY + timedelta(seconds=3)
    step = step_after(AttemptResult(error="timeout"), attempts=40, started=started)
    assert step.status is DeliveryStatus.DEAD_LETTERED
    assert step.next_attempt_at is None
    assert step.actions == (AuditAction.DELIVERY_FAILED, AuditAction.DELIVERY_DEAD_LETTERED)


def test_within_the_window_it_is_not() -> None:
    started = NOW - DAY + timedelta(minutes=11)
    assert step_after(AttemptResult(error="timeout"), attempts=40, started=started).status \
        is DeliveryStatus.PENDING  # fmt: skip


def test_gone_disables_the_destination_and_is_not_retried() -> None:
    step = step_after(AttemptResult(status_code=410))
    assert step.status is DeliveryStatus.DISABLED
    assert step.disables_destination
    assert step.next_attempt_at is None


def test_another_4xx_fails_without_a_retry() -> None:
    step = step_after(AttemptResult(status_code=400))
    assert step.status is DeliveryStatus.FAILED
    assert not step.disables_destination
    assert step.next_attempt_at is None


ROUND = timedelta(seconds=27)


@pytest.mark.parametrize(
    ("ahead", "claimed", "rounds"),
    [(0, 0, 1), (0, 1, 1), (0, 4, 1), (3, 1, 1), (3, 2, 2), (0, 5, 2), (1, 50, 13), (0, 50, 13)],
)
def test_a_claim_is_leased_for_every_round_of_attempts_before_its_last_is_settled(
    ahead: int, claimed: int, rounds: int
) -> None:
    lease = Lease(ROUND, bound=4, ahead=ahead)
    assert lease.rounds(claimed) == rounds
    assert lease.until(NOW, claimed) == NOW + rounds * ROUND


@given(ahead=st.integers(0, 63), claimed=st.integers(1, 1000), bound=st.integers(1, 64))
def test_no_claimed_delivery_waits_longer_than_its_lease(
    ahead: int, claimed: int, bound: int
) -> None:
    # Attempts at most `bound` at a time, each taking a whole round: the last one's ends then.
    ahead = min(ahead, bound - 1)
    last_ends = ((ahead + claimed - 1) // bound + 1) * ROUND
    assert Lease(ROUND, bound=bound, ahead=ahead).until(NOW, claimed) >= NOW + last_ends


def test_a_destination_of_unknown_pace_is_claimed_for_its_free_attempts_only() -> None:
    assert claim_size(3, pace=None, lease=Lease(ROUND, bound=4), most=50) == 3


@pytest.mark.parametrize(
    ("pace", "size"), [(0.005, 50), (1.0, 50), (5.0, 21), (10.0, 10), (25.0, 4), (60.0, 3)]
)
def test_a_claim_takes_what_the_destinations_pace_gets_through_in_one_round(
    pace: float, size: int
) -> None:
    assert claim_size(3, pace=pace, lease=Lease(ROUND, bound=4), most=50) == size
