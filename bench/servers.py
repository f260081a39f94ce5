"""`python -m bench.servers`: one endpoint on uvicorn and on granian, with one worker and two.

The endpoint validates a ConcernSubmission as intake does and answers 202, doing nothing else
(`bench.bare.build_validating_app`), so what differs is the HTTP server alone. Each server is
started in its own processes and stepped up open loop, as `safeguard bench --capacity` steps the
bare endpoint. Printed for each: the highest sustained rate, and the CPU milliseconds of the
server's processes per request answered at a fixed rate below every server's capacity.
Run it on an idle machine with the stack down: the load generator shares the same cores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from bench.baseline_steps import answered_outcome
from bench.baselines import ROOT, free_port, stop_process, wait_ready
from bench.capacity import StepOutcome, baseline_plan, highest_sustained, next_rate
from bench.climb import step_line
from bench.cpu import tree_cpu_seconds
from bench.load import concern_bodies, make_client, open_loop
from bench.report import say

TARGET = "bench.bare:build_validating_app"
FIXED_RATE = 400.0


@dataclass(frozen=True)
class Server:
    """One way of serving the endpoint."""

    name: str
    workers: int

    def command(self, port: int) -> list[str]:
        """The command line that serves the endpoint on this port."""
        common = ["--host", "127.0.0.1", "--port", str(port), "--workers", str(self.workers)]
        if self.name == "uvicorn":
            return [sys.executable, "-m", "uvicorn", "--factory", TARGET, *common,
                    "--loop", "uvloop", "--http", "httptools", "--no-access-log",
                    "--log-level", "warning"]  # fmt: skip
        return [sys.executable, "-m", "granian", "--interface", "asgi", "--factory",
                *common, "--loop", "uvloop", "--no-access-log", "--log-level", "warning",
                TARGET]  # fmt: skip


SERVERS = (Server("uvicorn", 1), Server("granian", 1), Server("uvicorn", 2), Server("granian", 2))


@contextlib.asynccontextmanager
async def serving(server: Server) -> AsyncIterator[tuple[str, int]]:
    """The server running in its own processes: its URL and its pid, once it answers."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        *server.command(port), cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        await wait_ready(url, process)
        yield url, process.pid
    finally:
        await stop_process(process)


async def measure(server: Server, *, seconds: float, max_rate: float) -> dict[str, float]:
    """One server's CPU per request at the fixed rate, then its highest sustained rate."""
    label = f"{server.name}, {server.workers} worker{'s' if server.workers > 1 else ''}"
    async with serving(server) as (url, pid), make_client() as client:
        endpoint = f"{url}/v1/concerns"
        await open_loop(client, endpoint, concern_bodies(200), rate=200)  # warm up
        before = tree_cpu_seconds(pid)
        fixed = await open_loop(
            client, endpoint, concern_bodies(round(FIXED_RATE * seconds)), rate=FIXED_RATE
        )
        answered = sum(1 for o in fixed.outcomes if o.error is None)
        cpu_ms = (tree_cpu_seconds(pid) - before) * 1000 / max(answered, 1)
        say(f"{label}: {cpu_ms:.3f} ms of CPU per request at {FIXED_RATE:g}/s")
        steps: list[StepOutcome] = []
        plan = baseline_plan(max_rate)
        while (rate := next_rate(plan, steps)) is not None:
            bodies = concern_bodies(max(1, round(rate * seconds)), seed=uuid.uuid4().int)
            run = await open_loop(client, endpoint, bodies, rate=rate)
            steps.append(answered_outcome(rate, run))
            say(step_line(label, steps[-1]))
    top = highest_sustained(steps)
    say(f"  => {label}: highest sustained rate {top:g}/s")
    return {"cpu_ms_per_request": round(cpu_ms, 3), "capacity_per_s": top}


async def main(seconds: float, max_rate: float) -> dict[str, dict[str, float]]:
    """Every server measured in turn; the figures by server."""
    figures = {}
    for server in SERVERS:
        figures[f"{server.name}_{server.workers}"] = await measure(
            server, seconds=seconds, max_rate=max_rate
        )
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step-seconds", type=float, default=10.0)
    parser.add_argument("--max-rate", type=float, default=20_000.0)
    options = parser.parse_args()
    print(json.dumps(asyncio.run(main(options.step_seconds, options.max_rate))))
