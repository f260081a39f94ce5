"""Latency histograms (HDR), the printed figures, the JSON summary line and the latency picture."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram

from bench.capacity import LATENCY_LIMIT_S, StepOutcome, percentile, sustained

# Microseconds, from 1 µs to 1 hour, 3 significant digits.
LOWEST_US, HIGHEST_US, DIGITS = 1, 3_600_000_000, 3
PERCENTILES = (50.0, 90.0, 99.0, 99.9, 100.0)


@dataclass
class Latencies:
    """An HDR histogram of latencies given in seconds, read back in milliseconds."""

    name: str
    histogram: Any = field(default_factory=lambda: HdrHistogram(LOWEST_US, HIGHEST_US, DIGITS))
    part: bool = False  # a part of another curve's whole: drawn dashed

    def record(self, seconds: float) -> None:
        """Add one latency; negatives (clock granularity) count as the lowest value."""
        micros = min(max(int(seconds * 1_000_000), LOWEST_US), HIGHEST_US)
        self.histogram.record_value(micros)

    def record_all(self, values: Iterable[float]) -> None:
        for value in values:
            self.record(value)

    @property
    def count(self) -> int:
        return int(self.histogram.get_total_count())

    def ms(self, percentile: float) -> float:
        """The latency at a percentile, in milliseconds (0 when empty)."""
        if self.count == 0:
            return 0.0
        if percentile >= 100.0:
            return float(self.histogram.get_max_value()) / 1000
        return float(self.histogram.get_value_at_percentile(percentile)) / 1000

    def curve(self) -> tuple[list[float], list[float]]:
        """(percentiles, milliseconds) along the whole distribution, for the picture."""
        points: list[float] = []
        values: list[float] = []
        if self.count == 0:
            return points, values
        for item in self.histogram.get_percentile_iterator(5):
            percentile = min(float(item.percentile_level_iterated_to), 99.9999)
            points.append(percentile)
            values.append(float(item.value_iterated_to) / 1000)
        return points, values

    def line(self) -> str:
        """One readable line: count and percentiles."""
        shown = "  ".join(f"p{p:g} {self.ms(p):8.1f}" for p in PERCENTILES[:-1])
        return f"{self.name:<34} n={self.count:<7} {shown}  max {self.ms(100):8.1f} ms"


def say(message: str = "") -> None:
    """Progress and figures for the person waiting."""
    print(message, flush=True)


def save_picture(curves: list[Latencies], path: Path) -> Path:
    """The latency distributions (HDR style: latency against percentile) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, FuncFormatter

    path.parent.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(figsize=(9, 5.5))
    for latencies in curves:
        percentiles, values = latencies.curve()
        if not percentiles:
            continue
        # x = 1 / (1 - p): the tail gets the room it deserves.
        xs = [1 / (1 - p / 100) for p in percentiles]
        axes.plot(
            xs,
            values,
            label=f"{latencies.name} (n={latencies.count})",
            linestyle="--" if latencies.part else "-",
        )
    axes.set_xscale("log")
    ticks = [0.0, 50.0, 90.0, 99.0, 99.9, 99.99]
    axes.xaxis.set_major_locator(FixedLocator([1 / (1 - p / 100) for p in ticks]))
    axes.xaxis.set_major_formatter(
        FuncFormatter(lambda x, _pos: f"{(1 - 1 / x) * 100:g}%" if x > 0 else "")
    )
    axes.set_xlabel("percentile")
    axes.set_ylabel("latency (ms)")
    axes.set_title("Safeguarding Exchange: latency distribution")
    axes.grid(True, which="major", alpha=0.4)
    axes.legend(loc="upper left", fontsize="small", framealpha=0.85)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def summary_line(figures: dict[str, Any]) -> str:
    """The machine-readable last line: one JSON object."""
    return json.dumps(figures, sort_keys=True)


def save_capacity_picture(sides: dict[str, Sequence[StepOutcome]], path: Path) -> Path:
    """p50 and p99 latency against offered rate, one colour per side, as a PNG.

    Latency runs from each send's scheduled time to through; a step whose p99 was never
    reached (sends not through) is drawn at the top of the axis. Crosses mark steps not
    sustained.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    path.parent.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(figsize=(10, 6))
    finite = [
        v for steps in sides.values() for s in steps for v in (s.p50_s, s.p99_s) if v < math.inf
    ]
    top_ms = max([LATENCY_LIMIT_S * 1000, *(v * 1000 for v in finite)]) * 1.5
    for index, (label, steps) in enumerate(sides.items()):
        ordered = sorted(steps, key=lambda s: s.offered_per_s)
        if not ordered:
            continue
        colour = f"C{index}"
        rates = [s.offered_per_s for s in ordered]
        for q, style in ((50, "--"), (99, "-")):
            values = [
                min(max(percentile(s.through, s.sent, q) * 1000, 0.1), top_ms) for s in ordered
            ]
            axes.plot(rates, values, style, color=colour, marker="o", markersize=3,
                      label=f"{label} p{q}")  # fmt: skip
            failed = [(r, v) for r, v, s in zip(rates, values, ordered, strict=True)
                      if not sustained(s)]  # fmt: skip
            if failed and q == 99:
                axes.plot(*zip(*failed, strict=True), "x", color=colour, markersize=9)
    axes.axhline(LATENCY_LIMIT_S * 1000, color="grey", linestyle=":", label="p99 limit")
    axes.set_xscale("log")
    axes.set_yscale("log")
    plain = FuncFormatter(lambda value, _pos: f"{value:g}")
    for axis in (axes.xaxis, axes.yaxis):
        axis.set_major_formatter(plain)
        axis.set_minor_formatter(FuncFormatter(lambda _value, _pos: ""))
    axes.set_xlabel("offered rate (per second, open loop)")
    axes.set_ylabel("latency from scheduled send (ms)")
    axes.set_title("Safeguarding Exchange: latency against offered rate (x: not sustained)")
    axes.grid(True, which="major", alpha=0.4)
    axes.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
