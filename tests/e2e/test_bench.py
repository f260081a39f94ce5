"""`python -m bench` measures a running stack and ends with one JSON line of figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


def run(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=timeout,
        check=False,
    )  # fmt: skip


def test_bench_reports_every_figure_of_a_small_run(tmp_path: Path) -> None:
    names = ("INTAKE", "ROUTING", "AUDIT", "WEB", "DELIVERY", "RECEIVER", "POSTGRES")
    ports = {name: free_port() for name in names}
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")
    }
    env |= {f"{name}_PORT": str(port) for name, port in ports.items()}
    env |= {"KAFKA_PORT": str(free_port()), "SAFEGUARD_HOME": str(tmp_path / ".safeguard")}
    not_up = run("-m", "bench", "--concerns", "10", env=env, timeout=60)
    assert not_up.returncode == 1
    assert "safeguard up" in not_up.stderr
    try:
        up = run("-m", "deploy.cli", "up", env=env)
        assert up.returncode == 0, up.stdout + up.stderr
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
    finally:
        run("-m", "deploy.cli", "down", env=env)
