"""`safeguard bench`: measure the running local stack end to end, and its raw baselines.

Figures are printed as they come; the last line is one JSON object (see `FIGURES`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench import audit, baselines
from bench.load import concern_bodies
from bench.pipeline import STAGES, PipelineResult, run_pipeline
from bench.profile import finish_profiles, start_profiles
from bench.report import Latencies, save_picture, say, summary_line

NEEDED = ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "INTAKE_URL", "JWT_SIGNING_KEY_PATH")
PICTURE = Path("test-output/bench/latency.png")
MEMORY_PICTURE = Path("test-output/bench/memory.png")
CAPACITY_PICTURE = Path("test-output/bench/capacity.png")
CONCERNS, RATE, CAPACITY_CONCERNS = 20_000, 250.0, 3_000
SOURCE_AGENCY = "nm-hospital-ed"


class StackNotUp(Exception):
    """The local stack is not running, or its settings cannot be found."""


def read_stack_env(home: Path | None = None) -> dict[str, str]:
    """The running stack's settings from .safeguard/stack.env; StackNotUp if it is not up."""
    from deploy.local.stack import default_home

    path = (home or default_home()) / "stack.env"
    if not path.exists():
        raise StackNotUp(f"No {path}: start the stack with `safeguard up` first.")
    env = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line.strip())
    missing = [key for key in NEEDED if key not in env]
    if missing:
        raise StackNotUp(f"{path} lacks {', '.join(missing)}: run `safeguard up` again.")
    for name in ("INTAKE_URL", "ROUTING_URL", "AUDIT_URL"):
        if name not in env:
            continue
        try:
            ready = httpx.get(f"{env[name]}/readyz", timeout=3).status_code == 200
        except httpx.HTTPError:
            ready = False
        if not ready:
            raise StackNotUp(f"{name} {env[name]} is not ready: is the stack up (`safeguard up`)?")
    return env


def agency_token(env: dict[str, str]) -> str:
    """A bearer token of the agency system that posts the concerns (`safeguard token`)."""
    import os
    import subprocess

    minted = subprocess.run(
        [sys.executable, "-m", "deploy.cli", "token", "--agency", SOURCE_AGENCY,
         "--role", "agency_system", "--subject", "bench", "--minutes", "120"],
        env={**os.environ, "JWT_SIGNING_KEY_PATH": env["JWT_SIGNING_KEY_PATH"]},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if minted.returncode != 0:
        raise StackNotUp(f"Could not mint a token: {minted.stderr.strip()}")
    return minted.stdout.strip().splitlines()[-1]


async def bench(
    env: dict[str, str], token: str, *, count: int, rate: float, picture: Path,
    profile: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Run everything; the figures of the summary line."""
    dsn = audit.asyncpg_dsn(env["DATABASE_URL"])
    servers = env["KAFKA_BOOTSTRAP_SERVERS"]
    say(f"End to end: {count} concerns to {env['INTAKE_URL']} at {rate:g}/s (open loop)")
    after_seq = await audit.last_seq(dsn)
    profiles = start_profiles(picture.parent) if profile else []
    pipeline = await run_pipeline(
        intake_url=env["INTAKE_URL"], bootstrap_servers=servers, token=token,
        count=count, rate=rate, receiver_url=env.get("RECEIVER_URL"),
    )  # fmt: skip
    for shown in finish_profiles(profiles):
        say(f"Profile: {shown.resolve()}")
    say("Waiting for audit to settle...")
    audited = await audit.settle(dsn, after_seq)
    audit_per_s = audited.per_s(pipeline.started)

    size = max(count, 20_000)
    say(f"Audit: a burst of {size} audit events put on Kafka at once")
    burst = await audit.burst(servers, dsn, count=size, run=uuid.uuid4().hex[:8])
    say(f"  appended {burst.entries} in {burst.seconds:.1f} s")

    say(f"Baseline: raw aiokafka pass-through, {count} records, fan-out {pipeline.fan_out:.2f}")
    raw_kafka = await baselines.raw_kafka_concerns_per_s(
        servers, count=count, in_size=pipeline.received_size,
        out_size=pipeline.notification_size, fan_out=pipeline.fan_out,
    )  # fmt: skip
    say(f"Baseline: raw asyncpg COPY of the burst's {burst.entries} audit rows")
    raw_copy = await audit.raw_copy_rows_per_s(dsn, burst.rows)
    say(f"Baseline: bare FastAPI endpoint on uvicorn, {count} posts at {rate:g}/s")
    bare = await baselines.bare_http(concern_bodies(count, seed=7), rate=rate)
    bare_client = Latencies("bare POST (client, open loop)")
    bare_client.record_all(bare.client_latencies())
    bare_per_s = bare.accepted_per_s()

    figures = _figures(pipeline, audited.entries, burst.per_s, raw_kafka, raw_copy, bare_per_s)
    figures |= {
        "offered_rate": rate,
        "bare_http_p99_ms": round(bare_client.ms(99), 2),
        "audit_entries_during_run_per_s": round(audit_per_s, 2),
        "audit_burst_entries": burst.entries,
    }
    _print(pipeline, bare_client, figures)
    curves = [
        pipeline.end_to_end,
        pipeline.deliveries.latencies,
        pipeline.webhooks.latencies,
        pipeline.intake_client,
        bare_client,
        *pipeline.stages,
    ]
    shown = save_picture(curves, picture)
    say(f"Latency picture: {shown.resolve()}")
    return figures


def _ratio(value: float, baseline: float) -> float:
    return round(value / baseline, 4) if baseline > 0 else 0.0


def _figures(
    p: PipelineResult, entries: int, audit_per_s: float, raw_kafka: float, raw_copy: float,
    bare_per_s: float,
) -> dict[str, Any]:  # fmt: skip
    e2e, delivery, webhook = p.end_to_end, p.deliveries.latencies, p.webhooks.latencies
    return {
        "concerns": p.posted,
        "accepted": p.accepted,
        "routed": p.routed,
        "failed": sum(p.failures.values()),
        "notifications": p.notifications,
        "audit_entries": entries,
        "concerns_per_s": round(p.concerns_per_s, 2),
        "p50_ms": round(e2e.ms(50), 2),
        "p90_ms": round(e2e.ms(90), 2),
        "p99_ms": round(e2e.ms(99), 2),
        "p999_ms": round(e2e.ms(99.9), 2),
        "max_ms": round(e2e.ms(100), 2),
        "intake_p99_ms": round(p.intake_client.ms(99), 2),
        **{
            f"{key}_{q}_ms": round(stage.ms(n), 2)
            for key, stage in zip(STAGES, p.stages, strict=True)
            for q, n in (("p50", 50), ("p99", 99))
        },
        "deliveries": p.deliveries.delivered,
        "deliveries_per_s": round(p.deliveries.per_s, 2),
        "delivery_p50_ms": round(delivery.ms(50), 2),
        "delivery_p99_ms": round(delivery.ms(99), 2),
        "delivery_max_ms": round(delivery.ms(100), 2),
        "webhook_deliveries": p.webhooks.delivered,
        "webhook_deliveries_per_s": round(p.webhooks.per_s, 2),
        "webhook_p50_ms": round(webhook.ms(50), 2),
        "webhook_p99_ms": round(webhook.ms(99), 2),
        "webhook_max_ms": round(webhook.ms(100), 2),
        "audit_entries_per_s": round(audit_per_s, 2),
        "intake_accepted_per_s": round(p.intake_accepted_per_s, 2),
        "raw_kafka_concerns_per_s": round(raw_kafka, 2),
        "raw_copy_rows_per_s": round(raw_copy, 2),
        "bare_http_accepted_per_s": round(bare_per_s, 2),
        "ratio_pipeline_vs_raw_kafka": _ratio(p.concerns_per_s, raw_kafka),
        "ratio_audit_vs_raw_copy": _ratio(audit_per_s, raw_copy),
        "ratio_intake_vs_bare_http": _ratio(p.intake_accepted_per_s, bare_per_s),
    }


def _print(p: PipelineResult, bare_client: Latencies, f: dict[str, Any]) -> None:
    say()
    say(f"Posted {p.posted}, accepted {p.accepted}, routed {p.routed} "
        f"({p.notifications} notifications, fan-out {p.fan_out:.2f}), "
        f"audit entries {f['audit_entries']}")  # fmt: skip
    if p.failures:
        say(f"Failed posts by status: {p.failures}")
    d = p.deliveries
    say(f"Delivered {d.delivered} of {d.wanted} police notifications on its feed "
        f"({d.resent} resent with the same webhook-id), {f['deliveries_per_s']:.1f}/s")  # fmt: skip
    w = p.webhooks
    say(f"Delivered {w.delivered} of {w.wanted} police notifications by signed webhook to the "
        f"stand-in records system ({w.resent} resent), "
        f"{f['webhook_deliveries_per_s']:.1f}/s")  # fmt: skip
    say("Latency (ms):")
    for latencies in (p.end_to_end, d.latencies, w.latencies, p.intake_client, bare_client):
        say("  " + latencies.line())
    say("End to end, part by part (ms):")
    for stage in p.stages:
        say("  " + stage.line())
    say("Throughput (per second):                     measured      baseline   ratio")
    rows = (
        ("pipeline concerns  / raw aiokafka", "concerns_per_s", "raw_kafka_concerns_per_s",
         "ratio_pipeline_vs_raw_kafka"),
        ("audit appends (burst) / raw COPY", "audit_entries_per_s", "raw_copy_rows_per_s",
         "ratio_audit_vs_raw_copy"),
        ("intake accepted    / bare endpoint", "intake_accepted_per_s", "bare_http_accepted_per_s",
         "ratio_intake_vs_bare_http"),
    )  # fmt: skip
    for label, measured, baseline, ratio in rows:
        say(f"  {label:<40} {f[measured]:>10.1f}  {f[baseline]:>12.1f}   {f[ratio]:.3f}")
    say("  (the pipeline and intake run at the offered rate: a ratio near rate/baseline means")
    say("   the stack kept up; raise --rate to find its ceiling)")


def cmd_bench(args: argparse.Namespace) -> int:
    """Benchmark the running local stack end to end against raw baselines."""
    try:
        env = read_stack_env()
        token = agency_token(env)
    except StackNotUp as error:
        print(f"safeguard bench: {error}", file=sys.stderr)
        return 1
    started = time.monotonic()
    if args.capacity:
        from bench.climb import capacity
        from deploy.local.stack import default_home

        picture = args.picture if args.picture != PICTURE else CAPACITY_PICTURE
        fixed_count = args.concerns or CAPACITY_CONCERNS
        figures = asyncio.run(
            capacity(env, token, home=default_home(), fixed_count=fixed_count,
                     step_seconds=args.step_seconds, max_rate=args.max_rate, picture=picture)
        )  # fmt: skip
        say(f"Done in {time.monotonic() - started:.0f} s")
        say(summary_line(figures))
        return 0 if figures["fixed_routed"] == figures["fixed_concerns"] else 2
    rate = args.rate or RATE
    if args.soak is not None:
        from bench.soak import soak
        from deploy.local.stack import default_home

        picture = args.picture if args.picture != PICTURE else MEMORY_PICTURE
        figures = asyncio.run(
            soak(env, token, home=default_home(), rate=rate, seconds=args.soak,
                 picture=picture)
        )  # fmt: skip
        say(f"Done in {time.monotonic() - started:.0f} s")
        say(summary_line(figures))
        return 0 if figures["failed"] == 0 else 2
    figures = asyncio.run(
        bench(env, token, count=args.concerns or CONCERNS, rate=rate, picture=args.picture,
              profile=args.profile)
    )  # fmt: skip
    say(f"Done in {time.monotonic() - started:.0f} s")
    say(summary_line(figures))
    return 0 if figures["routed"] == figures["concerns"] else 2


def _positive(kind: type[int] | type[float]) -> Any:
    def parse(text: str) -> int | float:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError("must be positive")
        return value

    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `bench`."""
    parser.add_argument("--concerns", type=_positive(int), default=None,
                        help=f"concerns to post (default {CONCERNS}; with --capacity, in its "
                             "fixed-rate run at 100/s and in its warm-up, default "
                             f"{CAPACITY_CONCERNS})")  # fmt: skip
    parser.add_argument("--rate", type=_positive(float), default=None,
                        help=f"offered concerns/s, fixed in advance (default {RATE:g}; "
                             "--capacity chooses its own)")  # fmt: skip
    parser.add_argument(
        "--soak",
        type=_positive(float),
        default=None,
        metavar="SECONDS",
        help="instead: post at --rate for SECONDS and trace each service's "
        "resident memory (e.g. --soak 600 at half the peak rate)",
    )
    parser.add_argument(
        "--capacity",
        action="store_true",
        help="instead: step the offered rate up, open loop, until p99 passes 1 s or a backlog "
        "grows, for the stack over HTTP and over Kafka, the bare endpoint and the raw "
        "pass-through; plus a warm-up and a fixed-rate run at 100/s (latency, CPU per "
        "concern) and the "
        "audit burst against COPY",
    )
    parser.add_argument("--step-seconds", type=_positive(float), default=10.0,
                        help="--capacity: seconds of sending per step (default 10)")  # fmt: skip
    parser.add_argument("--max-rate", type=_positive(float), default=20_000.0,
                        help="--capacity: the highest rate offered (default 20000)")  # fmt: skip
    parser.add_argument("--profile", action="store_true",
                        help="sample each service with py-spy during the end-to-end run and "
                             "save flame graphs beside the picture")  # fmt: skip
    parser.add_argument("--picture", type=Path, default=PICTURE,
                        help=f"where to save the latency PNG (default {PICTURE}; "
                             f"--capacity: {CAPACITY_PICTURE})")  # fmt: skip
    parser.set_defaults(func=cmd_bench)


def main(argv: list[str] | None = None) -> int:
    """`safeguard bench` and `python -m bench`: parse the options and run."""
    parser = argparse.ArgumentParser(prog="safeguard bench", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result
