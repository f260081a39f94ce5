"""Capacity steps of the two baselines, each started once for all its steps.

- bare: `bench.bare` (FastAPI on uvicorn, intake's HTTP stack) sent concerns open loop; a send
  is through when its 202 came back.
- raw: `bench.passthrough` in its own process, fed records of a `ConcernReceived`'s size open
  loop on a throwaway topic; a record is through when all its forwards were acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
from aiokafka import AIOKafkaProducer

from bench.baselines import ROOT, bare_server, stop_process, throwaway_topics
from bench.capacity import GRACE_S, StepOutcome, step_outcome
from bench.load import OpenLoopRun, concern_bodies, make_client, open_loop
from bench.submit import acknowledged_producer, produce_open_loop
from schemas.v1 import TOPICS, Topic

WARM_UP_SENDS = 200
DRAIN_LIMIT_S = 60.0


def answered_outcome(rate: float, run: OpenLoopRun) -> StepOutcome:
    """A step's outcome from an open-loop HTTP run: through when accepted."""
    failed = {i for i, o in enumerate(run.outcomes) if o.error is not None}
    return step_outcome(
        rate,
        [o.scheduled for o in run.outcomes],
        [o.answered for o in run.outcomes],
        failed=failed,
    )


@dataclass
class BareSide:
    """The bare endpoint on intake's HTTP stack."""

    url: str
    client: aiohttp.ClientSession

    async def step(self, rate: float, seconds: float) -> StepOutcome:
        """Post `rate`/s for `seconds`, open loop."""
        bodies = concern_bodies(max(1, round(rate * seconds)), seed=uuid.uuid4().int)
        run = await open_loop(self.client, f"{self.url}/v1/concerns", bodies, rate=rate)
        return answered_outcome(rate, run)


@contextlib.asynccontextmanager
async def bare_side() -> AsyncIterator[BareSide]:
    """The bare endpoint in its own process, warmed up."""
    async with bare_server() as url, make_client() as client:
        await open_loop(client, f"{url}/v1/concerns", concern_bodies(WARM_UP_SENDS), rate=200)
        yield BareSide(url, client)


@dataclass
class RawSide:
    """The raw pass-through process, fed on a throwaway topic."""

    source: str
    in_size: int
    producer: AIOKafkaProducer
    forwarder: asyncio.subprocess.Process
    steps: int = 0
    done: dict[str, float] = field(default_factory=dict)

    async def step(self, rate: float, seconds: float) -> StepOutcome:
        """Produce `rate`/s for `seconds`, open loop; wait (bounded) until all forwarded."""
        self.steps += 1
        keys = [f"{self.steps}-{i}" for i in range(max(1, round(rate * seconds)))]
        value = b"x" * self.in_size
        run = await produce_open_loop(
            self.producer, self.source, [(key.encode(), value) for key in keys], rate=rate
        )
        deadline = asyncio.get_running_loop().time() + max(DRAIN_LIMIT_S, GRACE_S + seconds)
        while asyncio.get_running_loop().time() < deadline:
            self.done |= await self._report()
            if all(key in self.done for i, key in enumerate(keys) if i not in run.failed):
                break
            await asyncio.sleep(0.5)
        return step_outcome(rate, run.scheduled, [self.done.get(k) for k in keys],
                            failed=run.failed)  # fmt: skip

    async def _report(self) -> dict[str, float]:
        stdin, stdout = self.forwarder.stdin, self.forwarder.stdout
        assert stdin is not None
        assert stdout is not None
        stdin.write(b"report\n")
        await stdin.drain()
        line = await stdout.readline()
        if not line:
            raise RuntimeError("The raw pass-through exited")
        done: dict[str, float] = json.loads(line)
        return done


@contextlib.asynccontextmanager
async def raw_side(
    servers: str, *, in_size: int, out_size: int, fan_out: float
) -> AsyncIterator[RawSide]:
    """The pass-through process on fresh topics, ready and warmed up."""
    async with throwaway_topics(servers) as (source, sink):
        forwarder = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.passthrough", servers, source,
            str(TOPICS[Topic.CONCERNS_RECEIVED]), sink, f"{fan_out:.4f}", str(out_size),
            cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL, limit=256 * 1024 * 1024,
        )  # fmt: skip
        producer = acknowledged_producer(servers)
        try:
            assert forwarder.stdout is not None
            ready = await asyncio.wait_for(forwarder.stdout.readline(), timeout=60)
            if ready.strip() != b"ready":
                raise RuntimeError("The raw pass-through did not start")
            await producer.start()
            side = RawSide(source, in_size, producer, forwarder)
            await side.step(200, WARM_UP_SENDS / 200)
            yield side
        finally:
            await producer.stop()
            if forwarder.stdin is not None:
                forwarder.stdin.close()  # it stops at the end of its input
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(forwarder.wait(), timeout=10)
            await stop_process(forwarder)
