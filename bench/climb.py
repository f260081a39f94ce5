"""`safeguard bench --capacity`: each side's highest sustained rate, measured the same way.

In order: a warm-up at 100/s, reported as cold; the fixed-rate run at 100/s for latency, with
every stack process's CPU time; audit's burst against raw COPY; then four climbs of the offered
rate, open loop (`bench.capacity` decides the rates and whether each step was sustained): the
stack over HTTP, the stack over Kafka, the bare endpoint on the same HTTP stack, and the raw
aiokafka pass-through.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench import audit, database
from bench.baseline_steps import bare_side, raw_side
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
)
from bench.cpu import CpuMeter, ms_per_concern, stack_processes
from bench.pipeline import PipelineResult, run_pipeline
from bench.pipeline_steps import pipeline_sides
from bench.report import save_capacity_picture, say

FIXED_RATE = 100.0
BURST = 20_000
SIDES = {
    "http": "stack over HTTP",
    "kafka": "stack over Kafka",
    "bare_http": "bare endpoint",
    "raw_passthrough": "raw pass-through",
}
Step = Callable[[float, float], Awaitable[StepOutcome]]


def _ms(seconds: float) -> float | None:
    return None if math.isinf(seconds) else round(seconds * 1000, 1)


def step_line(label: str, step: StepOutcome) -> str:
    """One readable line of a step's figures and verdict."""
    reason = shortfall(step)
    p50, p99 = _ms(step.p50_s), _ms(step.p99_s)
    received = ""
    if step.from_received:
        received = (
            f"  (from received: p99 {percentile(step.from_received, step.sent, 99) * 1000:.0f} ms)"
        )
    return (
        f"  {label:<17} {step.offered_per_s:>7g}/s  sent {step.sent:>6}  "
        f"through {step.through_per_s:>7.1f}/s  p50 {p50 if p50 is not None else 'never':>8} ms"
        f"  p99 {p99 if p99 is not None else 'never':>8} ms{received}  "
        + ("sustained" if reason is None else f"NOT sustained: {reason}")
    )


async def climb(side: str, step: Step, plan: Plan, seconds: float) -> list[StepOutcome]:
    """Step one side's offered rate up the plan until it no longer keeps up."""
    steps: list[StepOutcome] = []
    while (rate := next_rate(plan, steps)) is not None:
        steps.append(await step(rate, seconds))
        say(step_line(SIDES[side], steps[-1]))
    top = highest_sustained(steps)
    bound = "" if limited(steps) else f" (every step sustained: at least {top:g}/s)"
    say(f"  => {SIDES[side]}: highest sustained rate {top:g}/s{bound}")
    return steps


def step_figures(step: StepOutcome) -> dict[str, Any]:
    """A step's figures for the summary line."""
    figures: dict[str, Any] = {
        "offered_per_s": step.offered_per_s,
        "sent": step.sent,
        "through_per_s": round(step.through_per_s, 1),
        "p50_ms": _ms(step.p50_s),
        "p99_ms": _ms(step.p99_s),
        "sustained": shortfall(step) is None,
        "shortfall": shortfall(step),
    }
    if step.from_received:
        figures["p99_from_received_ms"] = _ms(percentile(step.from_received, step.sent, 99))
    return figures


async def capacity(
    env: dict[str, str], token: str, *, home: Path, fixed_count: int, step_seconds: float,
    max_rate: float, picture: Path,
) -> dict[str, Any]:  # fmt: skip
    """Run everything; the figures of the summary line."""
    dsn = audit.asyncpg_dsn(env["DATABASE_URL"])
    servers = env["KAFKA_BOOTSTRAP_SERVERS"]
    meter = CpuMeter(stack_processes(home, env))
    # A fresh stack spends its first minutes compiling: the broker's JIT compiler alone took
    # 237 ms of CPU a second under 60/s load in its first minute. That run is reported apart,
    # as "cold", so the fixed-rate figures describe the stack as it runs, not as it starts.
    say(f"Warm-up: {fixed_count} concerns at {FIXED_RATE:g}/s over HTTP, reported as cold")
    cold, cold_cpu, _ = await _fixed_run(env, token, dsn, meter, fixed_count)
    say(f"Fixed rate: {fixed_count} concerns at {FIXED_RATE:g}/s over HTTP, CPU time of "
        f"{', '.join(meter.pids)}")  # fmt: skip
    fixed, cpu, written = await _fixed_run(env, token, dsn, meter, fixed_count)

    say(f"Audit: a burst of {BURST} audit events put on Kafka at once, then raw COPY of its rows")
    burst = await audit.burst(servers, dsn, count=BURST, run=uuid.uuid4().hex[:8])
    raw_copy = await audit.raw_copy_rows_per_s(dsn, burst.rows)
    say(f"  appended {burst.entries} at {burst.per_s:.0f}/s; COPY {raw_copy:.0f} rows/s")

    climbs: dict[str, list[StepOutcome]] = {}
    say(f"Capacity: open-loop steps of {step_seconds:g} s up to {max_rate:g}/s; sustained while "
        "p99 from the scheduled send <= 1 s and no backlog")  # fmt: skip
    async with pipeline_sides(env, token) as stack:
        climbs["http"] = await climb("http", stack.http, pipeline_plan(max_rate), step_seconds)
        climbs["kafka"] = await climb("kafka", stack.kafka, pipeline_plan(max_rate), step_seconds)
    async with bare_side() as bare:
        climbs["bare_http"] = await climb("bare_http", bare.step, baseline_plan(max_rate),
                                          step_seconds)  # fmt: skip
    say(f"  (raw pass-through: {fixed.received_size} B in, {fixed.notification_size} B out, "
        f"fan-out {fixed.fan_out:.2f}, as in the fixed-rate run)")  # fmt: skip
    async with raw_side(servers, in_size=fixed.received_size, out_size=fixed.notification_size,
                        fan_out=fixed.fan_out) as raw:  # fmt: skip
        climbs["raw_passthrough"] = await climb(
            "raw_passthrough", raw.step, baseline_plan(max_rate), step_seconds
        )

    top = {side: highest_sustained(steps) for side, steps in climbs.items()}
    figures: dict[str, Any] = {
        **{f"capacity_{side}_per_s": rate for side, rate in top.items()},
        "capacity_limited": {side: limited(steps) for side, steps in climbs.items()},
        "ratio_http_vs_bare_capacity": ratio(top["http"], top["bare_http"]),
        "ratio_kafka_vs_raw_passthrough": ratio(top["kafka"], top["raw_passthrough"]),
        "ratio_audit_vs_raw_copy": ratio(burst.per_s, raw_copy),
        "fixed_rate": FIXED_RATE,
        "fixed_concerns": fixed.posted,
        "fixed_routed": fixed.routed,
        "p50_ms_at_100": round(fixed.end_to_end.ms(50), 2),
        "p99_ms_at_100": round(fixed.end_to_end.ms(99), 2),
        "fan_out": round(fixed.fan_out, 3),
        "audit_entries_per_s": round(burst.per_s, 2),
        "audit_burst_entries": burst.entries,
        "raw_copy_rows_per_s": round(raw_copy, 2),
        "cpu_ms_per_concern": cpu["total"],
        "cpu_ms_per_concern_by_process": {k: v for k, v in cpu.items() if k != "total"},
        **{k: v for k, v in written.items() if k != "checkpoints"},
        "checkpoints_during_fixed_run": written["checkpoints"],
        "cold_p50_ms_at_100": round(cold.end_to_end.ms(50), 2),
        "cold_p99_ms_at_100": round(cold.end_to_end.ms(99), 2),
        "cold_cpu_ms_per_concern": cold_cpu["total"],
        "cold_cpu_ms_per_concern_by_process": {k: v for k, v in cold_cpu.items() if k != "total"},
        "step_seconds": step_seconds,
        "max_rate": max_rate,
        "capacity_steps": {
            side: [step_figures(s) for s in steps] for side, steps in climbs.items()
        },
    }
    _print(figures)
    shown = save_capacity_picture({SIDES[side]: steps for side, steps in climbs.items()}, picture)
    say(f"Capacity picture: {shown.resolve()}")
    return figures


async def _fixed_run(
    env: dict[str, str], token: str, dsn: str, meter: CpuMeter, count: int
) -> tuple[PipelineResult, dict[str, float], dict[str, float]]:
    """Concerns at the fixed rate over HTTP, until audited; the run, its CPU per concern and
    what PostgreSQL wrote per concern."""
    after_seq = await audit.last_seq(dsn)
    before = await database.read_counters(dsn)
    meter.start()
    run = await run_pipeline(
        intake_url=env["INTAKE_URL"], bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"],
        token=token, count=count, rate=FIXED_RATE, receiver_url=env.get("RECEIVER_URL"),
    )  # fmt: skip
    await audit.settle(dsn, after_seq)
    cpu = ms_per_concern(meter.stop(), run.routed)
    written = database.per_concern(before, await database.read_counters(dsn), run.routed)
    say(f"  routed {run.routed} of {run.posted}; " + run.end_to_end.line())
    say("  " + database.line(written))
    return run, cpu, written


def _print(f: dict[str, Any]) -> None:
    say()
    say(f"At {f['fixed_rate']:g}/s: p50 {f['p50_ms_at_100']:.1f} ms, "
        f"p99 {f['p99_ms_at_100']:.1f} ms end to end; "
        f"CPU {f['cpu_ms_per_concern']:.2f} ms per concern routed:")  # fmt: skip
    by_process = sorted(f["cpu_ms_per_concern_by_process"].items(), key=lambda kv: -kv[1])
    for name, ms in by_process:
        say(f"  {name:<12} {ms:>8.2f} ms")
    say("  " + database.line(f | {"checkpoints": f["checkpoints_during_fixed_run"]}))
    say("Capacity (highest sustained rate, per second):   measured   baseline   ratio")
    rows = (
        ("stack over HTTP  / bare endpoint", "http", "bare_http", "ratio_http_vs_bare_capacity"),
        ("stack over Kafka / raw pass-through", "kafka", "raw_passthrough",
         "ratio_kafka_vs_raw_passthrough"),
    )  # fmt: skip
    for label, side, baseline, key in rows:
        measured, base = f[f"capacity_{side}_per_s"], f[f"capacity_{baseline}_per_s"]
        say(f"  {label:<44} {measured:>9g}  {base:>9g}   {f[key]:.3f}")
    say(f"  {'audit appends (burst) / raw COPY':<44} {f['audit_entries_per_s']:>9.0f}  "
        f"{f['raw_copy_rows_per_s']:>9.0f}   {f['ratio_audit_vs_raw_copy']:.3f}")  # fmt: skip
    unbounded = [SIDES[s] for s, bounded in f["capacity_limited"].items() if not bounded]
    if unbounded:
        say(f"  (not reached below --max-rate {f['max_rate']:g}: {', '.join(unbounded)}; "
            "their figure is a lower bound)")  # fmt: skip
