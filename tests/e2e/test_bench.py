"""`python -m bench` measures a running stack and ends with one JSON line of figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.infrastructure import free_port

pytestmark = pytest.mark.e2e

REQUIRED = (
    "concerns_per_s", "p50_ms", "p99_ms", "max_ms", "audit_entries_per_s",
    "ratio_pipeline_vs_raw_kafka", "ratio_audit_vs_raw_copy", "ratio_intake_vs_bare_http",
    "deliveries_per_s", "delivery_p99_ms", "webhook_deliveries_per_s", "webhook_p50_ms",
    "webhook_p99_ms",
)  # fmt: skip
CAPACITY = (
    "capacity_http_per_s", "capacity_kafka_per_s", "capacity_bare_http_per_s",
    "capacity_raw_passthrough_per_s", "p50_ms_at_100", "p99_ms_at_100", "audit_entries_per_s",
    "cpu_ms_per_concern", "ratio_http_vs_bare_capacity", "ratio_kafka_vs_raw_passthrough",
    "ratio_audit_vs_raw_copy", "cold_p50_ms_at_100", "cold_p99_ms_at_100",
    "cold_cpu_ms_per_concern", "commits_per_concern", "wal_kb_per_concern",
)  # fmt: skip
STACK_PROCESSES = (
    "intake",
    "routing",
    "audit",
    "delivery",
    "web",
    "receiver",
    "kafka",
    "postgresql",
)


def run(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=timeout,
        check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The environment of a stack of its own, on free ports, up for this module's tests."""
    names = ("INTAKE", "ROUTING", "AUDIT", "WEB", "DELIVERY", "RECEIVER", "POSTGRES", "KAFKA")
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")
    }
    env |= {f"{name}_PORT": str(free_port()) for name in names}
    env["SAFEGUARD_HOME"] = str(tmp_path_factory.mktemp("bench") / ".safeguard")
    not_up = run("-m", "bench", "--concerns", "10", env=env, timeout=60)
    assert not_up.returncode == 1
    assert "safeguard up" in not_up.stderr
    try:
        up = run("-m", "deploy.cli", "up", env=env)
        assert up.returncode == 0, up.stdout + up.stderr
        yield env
    finally:
        run("-m", "deploy.cli", "down", env=env)


def test_bench_reports_every_figure_of_a_small_run(stack: dict[str, str], tmp_path: Path) -> None:
    env = stack
    picture = tmp_path / "latency.png"
    bench = run(
        "-m", "bench", "--concerns", "200", "--rate", "50", "--picture", str(picture),
        env=env,
    )  # fmt: skip
    output = bench.stdout + bench.stderr
    assert bench.returncode in (0, 2), output
    figures = json.loads(bench.stdout.strip().splitlines()[-1])
    assert set(REQUIRED) <= set(figures), output
    assert figures["concerns"] == 200
    assert figures["accepted"] + figures["failed"] == 200
    assert figures["routed"] == figures["accepted"] > 0, output
    assert figures["notifications"] >= figures["routed"]
    assert figures["audit_entries"] >= figures["routed"]
    # Every police notification reached both of its destinations: feed and signed webhook.
    assert figures["webhook_deliveries"] == figures["deliveries"] > 0, output
    assert 0 < figures["p50_ms"] <= figures["p99_ms"] <= figures["max_ms"]
    # Each concern's three parts add up to its whole, so no part is slower than the slowest whole
    # (within the histograms' three significant digits).
    for stage in ("stage_intake", "stage_waiting_for_routing", "stage_routing"):
        p50, p99 = figures[f"{stage}_p50_ms"], figures[f"{stage}_p99_ms"]
        assert 0 < p50 <= p99 <= figures["max_ms"] * 1.001, (stage, output)
    assert "End to end, part by part" in output
    for key in REQUIRED:
        assert figures[key] > 0, key
    assert picture.stat().st_size > 0
    assert "accepted" in output
    assert figures["audit_burst_entries"] == 20_000, output

    memory = tmp_path / "memory.png"
    soak = run(
        "-m", "bench", "--soak", "8", "--rate", "20", "--picture", str(memory),
        env=env,
    )  # fmt: skip
    assert soak.returncode == 0, soak.stdout + soak.stderr
    traced = json.loads(soak.stdout.strip().splitlines()[-1])
    assert traced["accepted"] == 160
    assert set(traced["rss"]) == {"intake", "routing", "audit", "delivery"}
    for service in traced["rss"].values():
        assert 0 < service["start_mib"] <= service["max_mib"]
        assert service["end_mib"] <= service["max_mib"]
    assert memory.stat().st_size > 0


@pytest.mark.timeout(600)
def test_bench_capacity_reports_each_sides_highest_sustained_rate(
    stack: dict[str, str], tmp_path: Path
) -> None:
    picture = tmp_path / "capacity.png"
    bench = run(
        "-m", "bench", "--capacity", "--step-seconds", "3", "--max-rate", "60",
        "--concerns", "300", "--picture", str(picture), env=stack, timeout=540,
    )  # fmt: skip
    output = bench.stdout + bench.stderr
    assert bench.returncode == 0, output
    figures = json.loads(bench.stdout.strip().splitlines()[-1])
    assert set(CAPACITY) <= set(figures), output
    for key in CAPACITY:
        assert figures[key] > 0, (key, output)
    assert figures["fixed_routed"] == figures["fixed_concerns"] == 300
    assert figures["p50_ms_at_100"] <= figures["p99_ms_at_100"]
    by_process = figures["cpu_ms_per_concern_by_process"]
    assert set(STACK_PROCESSES) <= set(by_process), by_process
    for name in ("intake", "routing", "audit", "kafka", "postgresql"):
        assert by_process[name] > 0, name
    assert figures["cpu_ms_per_concern"] == pytest.approx(sum(by_process.values()), abs=0.01)
    cold = figures["cold_cpu_ms_per_concern_by_process"]
    assert set(STACK_PROCESSES) <= set(cold), cold
    assert figures["cold_cpu_ms_per_concern"] == pytest.approx(sum(cold.values()), abs=0.01)
    assert figures["cold_p50_ms_at_100"] <= figures["cold_p99_ms_at_100"]
    assert figures["wal_full_page_images_per_concern"] >= 0
    assert figures["checkpoints_during_fixed_run"] >= 0
    assert "KB of write-ahead log" in output
    for side, steps in figures["capacity_steps"].items():
        assert steps, side
        assert all(step["offered_per_s"] <= 60 for step in steps), side
    assert picture.stat().st_size > 0
    assert "highest sustained rate" in output
