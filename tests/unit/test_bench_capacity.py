"""`safeguard bench --capacity` decides each step, and the rates it climbs, the same way for every
side: p99 from the scheduled send within 1 s, nothing refused, no backlog."""

from __future__ import annotations

import math
from collections.abc import Set

import pytest

from bench.capacity import (
    Plan,
    StepOutcome,
    baseline_plan,
    highest_sustained,
    limited,
    next_rate,
    percentile,
    pipeline_plan,
    ratio,
    shortfall,
    step_outcome,
    sustained,
)
from bench.cpu import ms_per_concern
from bench.passthrough import forwards

T0 = 1_700_000_000.0


def a_step(
    rate: float = 100.0,
    seconds: float = 10.0,
    *,
    latency: float = 0.2,
    slow: dict[int, float] | None = None,
    never: Set[int] = frozenset(),
    failed: Set[int] = frozenset(),
) -> StepOutcome:
    """A step at `rate` whose sends are through after `latency`, some after `slow[i]`."""
    count = round(rate * seconds)
    scheduled = [T0 + i / rate for i in range(count)]
    slow = slow or {}
    through = [
        None if i in never else sent + slow.get(i, latency) for i, sent in enumerate(scheduled)
    ]
    return step_outcome(rate, scheduled, through, failed=failed)


def test_a_step_through_well_within_a_second_is_sustained() -> None:
    step = a_step()
    assert shortfall(step) is None
    assert step.sent == 1000
    assert step.p50_s == pytest.approx(0.2)
    assert step.through_per_s == pytest.approx(1000 / (9.99 + 0.2))


def test_p99_over_a_second_is_not_sustained() -> None:
    step = a_step(slow={i: 1.5 for i in range(0, 1000, 50)})  # 2% slow
    assert step.p99_s == pytest.approx(1.5)
    assert shortfall(step) == "p99 1500 ms > 1000 ms"


def test_one_percent_slow_is_still_within_p99() -> None:
    assert sustained(a_step(slow={i: 1.5 for i in range(0, 1000, 100)}))


def test_sends_never_through_count_as_infinitely_late() -> None:
    step = a_step(never=set(range(0, 1000, 40)))  # 2.5%
    assert math.isinf(step.p99_s)
    assert shortfall(step) == "p99 never > 1000 ms"


def test_any_refused_send_fails_the_step() -> None:
    step = a_step(failed={3})
    assert shortfall(step) == "1 of 1000 sends refused or failed"


def test_concerns_still_unrouted_seconds_after_the_last_send_are_a_backlog() -> None:
    # Under 1% (p99 is fine) but through only 4 s after the step's sends ended.
    step = a_step(slow={i: 4.0 for i in range(990, 995)})
    assert step.p99_s < 1.0
    assert step.late == 5
    assert shortfall(step) == "backlog: 5 not through 3 s after the last send"


def test_a_through_rate_clearly_behind_the_offered_one_is_a_backlog() -> None:
    step = a_step(slow={i: 2.5 for i in range(995, 1000)})
    assert step.p99_s < 1.0
    assert step.late == 0
    reason = shortfall(step)
    assert reason is not None
    assert reason.startswith("backlog: through at 80/s, offered 100/s")


def test_a_short_step_within_the_limit_is_not_behind() -> None:
    # 3 s of sending and 0.9 s latency: through at ~77/s of 100/s, yet nothing queued.
    assert sustained(a_step(seconds=3, latency=0.9))


def test_a_step_with_nothing_sent_is_not_sustained() -> None:
    assert shortfall(step_outcome(100, [], [])) == "nothing was sent"


@pytest.mark.parametrize(
    ("q", "expected"), [(50, 5.0), (90, 9.0), (99, 10.0), (100, 10.0), (1, 1.0)]
)
def test_percentile_is_the_nearest_rank(q: float, expected: float) -> None:
    assert percentile([float(v) for v in range(10, 0, -1)], 10, q) == expected


def test_percentile_over_more_sends_than_latencies_is_infinite_beyond_them() -> None:
    assert percentile([0.1] * 98, 100, 98) == 0.1
    assert math.isinf(percentile([0.1] * 98, 100, 99))


def test_the_pipeline_plan_follows_the_schedule_up_to_the_top_rate() -> None:
    assert pipeline_plan(60).rates == (50, 60)
    assert pipeline_plan(1000).rates == (50, 100, 200, 300, 400, 600, 800, 1000)
    beyond = pipeline_plan(5000).rates
    assert beyond[-5:] == (2500, 3100, 3900, 4900, 5000)


def test_the_baseline_plan_doubles() -> None:
    assert baseline_plan(1000).rates == (100, 200, 400, 800, 1000)
    assert baseline_plan(60).rates == (60,)


def sustained_at(rate: float) -> StepOutcome:
    return a_step(rate, 2)


def failed_at(rate: float) -> StepOutcome:
    return a_step(rate, 2, latency=2.0)


def test_the_climb_goes_up_the_plan_while_steps_are_sustained() -> None:
    plan = Plan((50, 100, 200), refinements=1)
    assert next_rate(plan, []) == 50
    assert next_rate(plan, [sustained_at(50)]) == 100
    assert next_rate(plan, [sustained_at(50), sustained_at(100), sustained_at(200)]) is None


def test_after_a_failure_the_climb_narrows_in_then_stops() -> None:
    plan = Plan((100, 200, 400, 800), refinements=2)
    steps = [sustained_at(100), sustained_at(200), failed_at(400)]
    assert next_rate(plan, steps) == 300
    steps.append(sustained_at(300))
    assert next_rate(plan, steps) == 350
    steps.append(failed_at(350))
    assert next_rate(plan, steps) is None
    assert highest_sustained(steps) == 300
    assert limited(steps)


def test_when_the_first_step_fails_the_climb_halves_down_to_the_floor() -> None:
    plan = Plan((50, 100), refinements=1)
    assert next_rate(plan, [failed_at(50)]) == 25
    steps = [failed_at(50), failed_at(25), failed_at(12)]
    assert next_rate(plan, steps) == 6
    assert next_rate(plan, [*steps, failed_at(6)]) is None
    assert highest_sustained([*steps, failed_at(6)]) == 0


def test_a_rate_sustained_above_a_failed_one_is_not_the_capacity() -> None:
    steps = [sustained_at(100), failed_at(200), sustained_at(400)]
    assert highest_sustained(steps) == 100


def test_a_side_sustained_at_every_rate_is_not_limited() -> None:
    steps = [sustained_at(50), sustained_at(60)]
    assert highest_sustained(steps) == 60
    assert not limited(steps)


def test_ratios_of_capacities() -> None:
    assert ratio(300, 1200) == 0.25
    assert ratio(300, 0) == 0.0


def test_cpu_per_concern_by_process_and_in_all() -> None:
    spent = {"intake": 1.5, "routing": 2.0, "postgresql": 0.5}
    assert ms_per_concern(spent, 1000) == {
        "intake": 1.5, "routing": 2.0, "postgresql": 0.5, "total": 4.0,
    }  # fmt: skip
    assert ms_per_concern(spent, 0)["total"] == 0.0


def test_the_pass_through_forwards_the_fan_out_on_average_and_at_least_once() -> None:
    owed, total = 0.0, 0
    for _ in range(1000):
        count, owed = forwards(owed, 2.5)
        total += count
    assert total == 2500
    assert forwards(0.0, 0.3)[0] == 1
