"""Open-loop HTTP load: sends scheduled at fixed intervals, never waiting for an answer.

Each request's latency is measured from its *scheduled* send time, not from when the client got
round to sending it, so a slow server cannot hide its latency by slowing the sender down
(coordinated omission).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

GIVEN = ("Amelia", "Noah", "Isla", "Leo", "Ava", "Oscar", "Mia", "Jack", "Freya", "Theo")
CATEGORIES = ("neglect", "emotional_abuse", "physical_abuse", "online_harm", "other")
SEVERITIES = ("low", "medium", "high", "immediate")


def nhs_number(rng: random.Random) -> str:
    """A random NHS number with a valid Modulus 11 check digit."""
    while True:
        digits = [rng.randrange(10) for _ in range(9)]
        check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        if check != 10:
            return "".join(map(str, digits)) + str(0 if check == 11 else check)


def concern_body(index: int, rng: random.Random, *, run: str) -> dict[str, Any]:
    """A valid concern about a child of its own, as an agency system posts it."""
    today = datetime.now(UTC).date()
    born = today - timedelta(days=rng.randrange(365 * 2, 365 * 16))
    family = "Bench" + "".join(chr(ord("a") + rng.randrange(26)) for _ in range(10))
    return {
        "source_reference": f"BENCH-{run}-{index:07d}",
        "category": rng.choice(CATEGORIES),
        "severity": rng.choice(SEVERITIES),
        "subject": {
            "given_name": rng.choice(GIVEN),
            "family_name": family,
            "date_of_birth": born.isoformat(),
            "nhs_number": nhs_number(rng),
            "postcode": "NM1 1AA",
            "school_urn": "100101",
        },
        "household": [{"name": f"Dana {family}", "relationship": "mother"}],
        "summary": "Child arrived at school hungry and withdrawn.",
        "narrative": "Full account of what was seen and said. " * 8,
        "location": {"postcode": "NM1 1AA"},
        "reporter": {
            "name": "Sam Reid",
            "role": "Designated safeguarding lead",
            "phone": "01234 567890",
        },
        "lawful_basis": {"basis": "Children Act 1989 s.47", "consent": "given"},
        "occurred_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
    }


def concern_bodies(count: int, *, seed: int = 6) -> list[dict[str, Any]]:
    """`count` distinct concerns, made before the clock starts."""
    rng = random.Random(seed)
    run = uuid.uuid4().hex[:8]
    return [concern_body(i, rng, run=run) for i in range(count)]


@dataclass
class Outcome:
    """What one scheduled request got, and when (wall-clock seconds)."""

    scheduled: float
    answered: float | None = None
    status: int | None = None
    concern_id: str | None = None
    error: str | None = None


@dataclass
class OpenLoopRun:
    """The record of one open-loop run; counters readable while it runs."""

    offered_rate: float
    outcomes: list[Outcome] = field(default_factory=list)
    sent: int = 0
    accepted: int = 0
    failed: int = 0
    started: float = 0.0
    finished: float = 0.0

    def client_latencies(self) -> list[float]:
        """Seconds from scheduled send to an accepted answer."""
        return [
            o.answered - o.scheduled
            for o in self.outcomes
            if o.answered is not None and o.error is None and o.status in (200, 202)
        ]

    def accepted_per_s(self) -> float:
        """Accepted answers per second, from the first scheduled send to the last answer."""
        answered = [o.answered for o in self.outcomes if o.answered is not None]
        if not answered or self.accepted == 0:
            return 0.0
        return self.accepted / max(max(answered) - self.started, 1e-9)


def make_client(headers: dict[str, str] | None = None) -> aiohttp.ClientSession:
    """A client whose pool never queues an open-loop send.

    aiohttp rather than httpx: at a thousand posts a second httpx's own CPU time, on the same
    two cores as the stack, would be a large part of what is measured.
    """
    connector = aiohttp.TCPConnector(limit=2000, limit_per_host=2000)
    timeout = aiohttp.ClientTimeout(total=120, connect=30)
    return aiohttp.ClientSession(connector=connector, timeout=timeout, headers=headers or {})


async def open_loop(
    client: aiohttp.ClientSession,
    url: str,
    bodies: list[dict[str, Any]],
    *,
    rate: float,
    run: OpenLoopRun | None = None,
) -> OpenLoopRun:
    """POST every body at `rate` per second on a fixed schedule; wait for all answers."""
    run = run or OpenLoopRun(offered_rate=rate)
    interval = 1.0 / rate
    tasks: list[asyncio.Task[None]] = []

    async def send(outcome: Outcome, body: dict[str, Any]) -> None:
        try:
            async with client.post(url, json=body) as response:
                outcome.status = response.status
                if response.status in (200, 202):
                    outcome.concern_id = (await response.json()).get("concern_id")
                    run.accepted += 1
                else:
                    outcome.error = (await response.text())[:200]
                    run.failed += 1
        except (aiohttp.ClientError, TimeoutError) as error:
            outcome.error = f"{type(error).__name__}: {error}"
            run.failed += 1
        outcome.answered = time.time()

    loop = asyncio.get_running_loop()
    start_mono = loop.time() + 0.05
    run.started = time.time() + 0.05
    for index, body in enumerate(bodies):
        due = start_mono + index * interval
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        outcome = Outcome(scheduled=run.started + index * interval)
        run.outcomes.append(outcome)
        tasks.append(asyncio.create_task(send(outcome, body)))
        run.sent += 1
    await asyncio.gather(*tasks)
    run.finished = time.time()
    return run
