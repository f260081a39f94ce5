"""Capacity, decided the same way for every side: which offered rates to try, and whether a step
at one of them was sustained.

A step offers `rate`/s open loop for some seconds. Every side measures each of its sends from its
*scheduled* time to the moment it was through (the pipeline: the concern's last notification;
the bare endpoint: its answer; the raw pass-through: its last forwarded record). A send never
through counts as infinitely late. A step is sustained unless:

- a send was refused or failed;
- p99 of those latencies passes `LATENCY_LIMIT_S`;
- a backlog grew: more than `LATE_SHARE` of the sends were still not through `GRACE_S` after
  the step's last send, or the through rate fell clearly behind the offered one.

Pure: values in, values out; the bench's I/O lives in `bench.climb` and the sides' modules.
"""

from __future__ import annotations

import math
from collections.abc import Sequence, Set
from dataclasses import dataclass, field

LATENCY_LIMIT_S = 1.0
GRACE_S = 3.0
LATE_SHARE = 0.001
# Through rate below this share of what a stack within the latency limit would reach: behind.
KEEP_UP = 0.9
# The lowest rate tried when even the first step fails.
FLOOR_PER_S = 5.0

# The pipeline's steps (then on by a quarter each); the baselines go much higher, so double.
PIPELINE_RATES = (50, 100, 200, 300, 400, 600, 800, 1000, 1300, 1600, 2000, 2500)
BASELINE_START, BASELINE_GROWTH = 100.0, 2.0


@dataclass(frozen=True)
class StepOutcome:
    """What one step at one offered rate measured."""

    offered_per_s: float
    seconds: float  # the sending span: sends / rate
    sent: int
    failed: int
    through: list[float]  # seconds from each through send's scheduled time to through
    # Seconds from the first scheduled send to the last send through by the grace.
    last_through_s: float
    late: int  # sends not through GRACE_S after the last scheduled send (never: included)
    # The pipeline's sides also: seconds from intake's received_at to the last notification.
    from_received: list[float] = field(default_factory=list)

    @property
    def p50_s(self) -> float:
        return percentile(self.through, self.sent, 50)

    @property
    def p99_s(self) -> float:
        return percentile(self.through, self.sent, 99)

    @property
    def through_per_s(self) -> float:
        """Sends through by the grace, per second from the first scheduled send."""
        in_time = self.sent - self.late
        return in_time / max(self.last_through_s, self.seconds, 1e-9)


def step_outcome(
    rate: float,
    scheduled: Sequence[float],
    through_at: Sequence[float | None],
    *,
    failed: Set[int] = frozenset(),
    from_received: Sequence[float] = (),
) -> StepOutcome:
    """A step's outcome from each send's scheduled time and when it was through (None: never);
    `failed` holds the indexes of sends refused or failed (never through, whatever came)."""
    if not scheduled:
        return StepOutcome(rate, 0.0, 0, 0, [], 0.0, 0)
    first, last = scheduled[0], scheduled[-1]
    through: list[float] = []
    in_time: list[float] = []
    for index, (sent_at, at) in enumerate(zip(scheduled, through_at, strict=True)):
        if at is None or index in failed:
            continue
        through.append(at - sent_at)
        if at <= last + GRACE_S:
            in_time.append(at)
    return StepOutcome(
        offered_per_s=rate,
        seconds=len(scheduled) / rate,
        sent=len(scheduled),
        failed=len(failed),
        through=through,
        last_through_s=max(in_time, default=first) - first,
        late=len(scheduled) - len(in_time),
        from_received=list(from_received),
    )


def percentile(latencies: Sequence[float], sent: int, q: float) -> float:
    """The q-th percentile (nearest rank) over `sent` sends, those not through as infinite."""
    if sent <= 0:
        return math.inf
    rank = max(1, math.ceil(q / 100 * sent))
    if rank > len(latencies):
        return math.inf
    return sorted(latencies)[rank - 1]


def shortfall(step: StepOutcome) -> str | None:
    """Why the step was not sustained, or None when it was."""
    if step.sent == 0:
        return "nothing was sent"
    if step.failed:
        return f"{step.failed} of {step.sent} sends refused or failed"
    if step.p99_s > LATENCY_LIMIT_S:
        shown = "never" if math.isinf(step.p99_s) else f"{step.p99_s * 1000:.0f} ms"
        return f"p99 {shown} > {LATENCY_LIMIT_S * 1000:.0f} ms"
    if step.late > step.sent * LATE_SHARE:
        return f"backlog: {step.late} not through {GRACE_S:g} s after the last send"
    # Within the latency limit the last send is through by `seconds + limit`.
    keeping_up = step.sent / (step.seconds + LATENCY_LIMIT_S)
    if step.through_per_s < KEEP_UP * keeping_up:
        return f"backlog: through at {step.through_per_s:.0f}/s, offered {step.offered_per_s:g}/s"
    return None


def sustained(step: StepOutcome) -> bool:
    return shortfall(step) is None


@dataclass(frozen=True)
class Plan:
    """The rates one side climbs through, and how many times to narrow in after a failure."""

    rates: tuple[float, ...]
    refinements: int


def pipeline_plan(max_rate: float) -> Plan:
    """The pipeline's steps up to `max_rate`, then one narrowing step."""
    rates = list(map(float, PIPELINE_RATES))
    while rates[-1] < max_rate:
        rates.append(float(_two_figures(rates[-1] * 1.25)))
    return Plan(_up_to(rates, max_rate), refinements=1)


def baseline_plan(max_rate: float) -> Plan:
    """Doubling steps up to `max_rate`, then two narrowing steps."""
    rates = [BASELINE_START]
    while rates[-1] < max_rate:
        rates.append(rates[-1] * BASELINE_GROWTH)
    return Plan(_up_to(rates, max_rate), refinements=2)


def _two_figures(value: float) -> int:
    scale = 10 ** max(0, len(str(int(value))) - 2)
    return int(round(value / scale) * scale)


def _up_to(rates: Sequence[float], max_rate: float) -> tuple[float, ...]:
    kept = [rate for rate in rates if rate < max_rate]
    return (*kept, max_rate)


def next_rate(plan: Plan, steps: Sequence[StepOutcome]) -> float | None:
    """The next rate to try after these steps, None when the side is done.

    Up the plan until a step fails; then halfway between the highest sustained rate and the
    lowest failed one, `plan.refinements` times; when nothing was sustained, halve down to the
    floor.
    """
    failed = [s.offered_per_s for s in steps if not sustained(s)]
    if not failed:
        tried = {s.offered_per_s for s in steps}
        return next((rate for rate in plan.rates if rate not in tried), None)
    lowest_failed = min(failed)
    highest = highest_sustained(steps)
    if highest == 0:
        lower = math.floor(lowest_failed / 2)
        return float(lower) if lower >= FLOOR_PER_S else None
    first_failure = next(i for i, s in enumerate(steps) if not sustained(s))
    if len(steps) - first_failure - 1 >= plan.refinements:
        return None
    middle = float(round((highest + lowest_failed) / 2))
    return middle if highest < middle < lowest_failed else None


def highest_sustained(steps: Sequence[StepOutcome]) -> float:
    """The highest rate sustained below every failed one (0 when none was)."""
    ceiling = min((s.offered_per_s for s in steps if not sustained(s)), default=math.inf)
    return max((s.offered_per_s for s in steps if sustained(s) and s.offered_per_s < ceiling),
               default=0.0)  # fmt: skip


def limited(steps: Sequence[StepOutcome]) -> bool:
    """Whether a failed step bounded the side (not: every step up to the top rate sustained)."""
    return any(not sustained(s) for s in steps)


def ratio(value: float, baseline: float) -> float:
    """value / baseline to four places, 0 when there is no baseline."""
    return round(value / baseline, 4) if baseline > 0 else 0.0
