"""Memory under steady load: each service's resident memory through a long run at a fixed rate.

`safeguard bench --soak SECONDS --rate R` posts concerns open loop at R/s for SECONDS and reads
each service's resident set size (VmRSS in /proc) every few seconds. It prints the figure before
the load, after the first minute (caches, pools and prepared statements warmed) and at the end,
and saves the curves as a PNG. Memory is flat when the end is close to the warmed figure.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.load import OpenLoopRun, concern_bodies, make_client, open_loop
from bench.report import say
from deploy.local.processes import pid_of
from deploy.local.stack import service_pidfile

SERVICES = ("intake", "routing", "audit", "delivery")
WARM_UP_S = 60.0
EVERY_S = 5.0


def rss_mib(pid: int) -> float:
    """Resident memory of a process in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"process {pid} reports no VmRSS")


def service_pids(home: Path) -> dict[str, int]:
    """The running services' process ids, from the stack's pid files."""
    pids = {name: pid_of(service_pidfile(home, name)) for name in SERVICES}
    missing = [name for name, pid in pids.items() if pid is None]
    if missing:
        raise RuntimeError(f"not running: {', '.join(missing)} (start the stack: safeguard up)")
    return {name: pid for name, pid in pids.items() if pid is not None}


@dataclass
class MemoryTrace:
    """RSS samples per service, seconds since the start of the load."""

    pids: dict[str, int]
    times: list[float] = field(default_factory=list)
    samples: dict[str, list[float]] = field(default_factory=dict)

    def sample(self, at: float) -> None:
        """Read every service's RSS now."""
        self.times.append(at)
        for name, pid in self.pids.items():
            self.samples.setdefault(name, []).append(rss_mib(pid))

    def at(self, name: str, seconds: float) -> float:
        """The first sample of a service taken at or after `seconds`."""
        for when, value in zip(self.times, self.samples[name], strict=True):
            if when >= seconds:
                return value
        return self.samples[name][-1]

    def figures(self) -> dict[str, dict[str, float]]:
        """Per service: before the load, warmed, at the end, the highest, and the change."""
        result = {}
        for name, values in self.samples.items():
            warm, end = self.at(name, WARM_UP_S), values[-1]
            result[name] = {
                "start_mib": round(values[0], 1),
                "warm_mib": round(warm, 1),
                "end_mib": round(end, 1),
                "max_mib": round(max(values), 1),
                "growth_after_warm_pct": round((end - warm) / warm * 100, 1),
            }
        return result


async def soak(
    env: dict[str, str], token: str, *, home: Path, rate: float, seconds: float, picture: Path
) -> dict[str, Any]:
    """Post at `rate`/s for `seconds`, tracing memory; the figures of the summary line."""
    trace = MemoryTrace(service_pids(home))
    count = max(1, int(rate * seconds))
    say(f"Soak: {count} concerns at {rate:g}/s for {seconds:.0f} s, RSS every {EVERY_S:g} s")
    begun = time.monotonic()
    trace.sample(0.0)
    run = OpenLoopRun(offered_rate=rate)
    async with make_client({"Authorization": f"Bearer {token}"}) as client:
        load = asyncio.create_task(
            open_loop(client, f"{env['INTAKE_URL']}/v1/concerns", concern_bodies(count), rate=rate,
                      run=run)
        )  # fmt: skip
        while not load.done():
            await asyncio.wait({load}, timeout=EVERY_S)
            elapsed = time.monotonic() - begun
            trace.sample(elapsed)
            if len(trace.times) % 6 == 0 or load.done():
                shown = "  ".join(f"{n} {v[-1]:6.1f}" for n, v in trace.samples.items())
                say(f"  {elapsed:5.0f} s  accepted {run.accepted:>7}  RSS MiB  {shown}")
        load.result()
    figures = trace.figures()
    say()
    say("Resident memory (MiB)      before   warmed (1 min)      end      max   change")
    for name, f in figures.items():
        say(f"  {name:<22} {f['start_mib']:>8.1f} {f['warm_mib']:>16.1f} {f['end_mib']:>8.1f}"
            f" {f['max_mib']:>8.1f}   {f['growth_after_warm_pct']:+.1f}%")  # fmt: skip
    saved = save_memory_picture(trace, picture)
    say(f"Memory picture: {saved.resolve()}")
    return {
        "soak_seconds": round(time.monotonic() - begun, 1),
        "offered_rate": rate,
        "accepted": run.accepted,
        "failed": run.failed,
        "rss": figures,
    }


def save_memory_picture(trace: MemoryTrace, path: Path) -> Path:
    """Each service's RSS against time, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(figsize=(9, 5))
    for name, values in trace.samples.items():
        axes.plot([t / 60 for t in trace.times], values, label=name)
    axes.axvline(WARM_UP_S / 60, color="grey", linestyle=":", label="warmed")
    axes.set_xlabel("minutes under load")
    axes.set_ylabel("resident memory (MiB)")
    axes.set_ylim(bottom=0)
    axes.set_title("Safeguarding Exchange: memory under steady load")
    axes.grid(True, alpha=0.4)
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
