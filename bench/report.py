"""Latency histograms (HDR), the printed figures, the JSON summary line and the latency picture."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram

# Microseconds, from 1 µs to 1 hour, 3 significant digits.
LOWEST_US, HIGHEST_US, DIGITS = 1, 3_600_000_000, 3
PERCENTILES = (50.0, 90.0, 99.0, 99.9, 100.0)


@dataclass
class Latencies:
    """An HDR histogram of latencies given in seconds, read back in milliseconds."""

    name: str
    histogram: Any = field(default_factory=lambda: HdrHistogram(LOWEST_US, HIGHEST_US, DIGITS))

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
        axes.plot(xs, values, label=f"{latencies.name} (n={latencies.count})")
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
    axes.legend(loc="upper left")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def summary_line(figures: dict[str, Any]) -> str:
    """The machine-readable last line: one JSON object."""
    return json.dumps(figures, sort_keys=True)
