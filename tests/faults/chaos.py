"""When to hurt which part: a seeded plan, carried out while the load runs."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass, field

from tests.faults.stack import PrivateStack

KILLED = ("intake", "routing", "audit", "delivery")


@dataclass(frozen=True)
class Blow:
    """One fault: at `at` seconds into the load, hurt `target`, leaving it down `downtime` s."""

    at: float
    target: str
    downtime: float


@dataclass
class ChaosPlan:
    """Every fault of one run, per target in time order."""

    blows: list[Blow]
    done: Counter[str] = field(default_factory=Counter)

    def of(self, target: str) -> list[Blow]:
        return sorted((b for b in self.blows if b.target == target), key=lambda b: b.at)

    def describe(self) -> str:
        return ", ".join(f"{b.target}@{b.at:.0f}s" for b in sorted(self.blows, key=lambda b: b.at))


def plan_chaos(rng: random.Random, *, window: float, kills: int) -> ChaosPlan:
    """`kills` kill -9 of each service, one Kafka and one PostgreSQL restart, within window s.

    Each service's kills fall in their own slices of the window, so they are spread over the
    whole run rather than bunched; within a slice the moment is random.
    """
    blows = []
    begin, end = 0.05 * window, 0.85 * window
    for service in KILLED:
        slice_ = (end - begin) / kills
        for k in range(kills):
            at = begin + slice_ * (k + rng.uniform(0.05, 0.8))
            blows.append(Blow(at, service, rng.uniform(0.2, 3.0)))
    blows.append(Blow(rng.uniform(0.2, 0.6) * window, "kafka", rng.uniform(1.0, 5.0)))
    blows.append(Blow(rng.uniform(0.3, 0.8) * window, "postgresql", rng.uniform(0.5, 3.0)))
    return ChaosPlan(blows)


async def carry_out(plan: ChaosPlan, stack: PrivateStack, *, started: float) -> None:
    """Deliver every blow of the plan, each target in its own task; restart what was hurt."""
    loop = asyncio.get_running_loop()

    async def until(moment: float) -> None:
        delay = started + moment - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)

    async def hurt(target: str) -> None:
        for blow in plan.of(target):
            await until(blow.at)
            if target == "kafka":
                await stack.restart_kafka(blow.downtime)
            elif target == "postgresql":
                await stack.crash_postgres(blow.downtime)
            else:
                pid = await stack.kill(target)
                stack.timeline.note(f"kill -9 {target} (pid {pid})")
                await asyncio.sleep(blow.downtime)
                await stack.restart(target, f"killed {blow.downtime:.1f} s before")
            plan.done[target] += 1

    await asyncio.gather(*(hurt(target) for target in {b.target for b in plan.blows}))
