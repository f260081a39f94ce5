"""Baselines on the same broker and machine: a raw aiokafka pass-through and a bare endpoint.

Raw Kafka: two throwaway topics with the pipeline's partition counts; N records the size of a
`ConcernReceived` are loaded into the first (untimed); then one consumer (getmany of up to 2,000)
forwards each record `fan_out` times, at the size of a `NotificationRouted`, through an idempotent
acks=all producer, committing per batch. The clock runs from the first record consumed (after the
group join) to the last produce confirmed. The topics are deleted afterwards.

Bare HTTP: `bench.bare` in its own uvicorn process, sent the same bodies open loop at the
same offered rate as intake.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.load import OpenLoopRun, make_client, open_loop
from schemas.v1 import TOPICS, Topic

ROOT = Path(__file__).resolve().parents[2]


async def raw_kafka_concerns_per_s(
    bootstrap_servers: str, *, count: int, in_size: int, out_size: int, fan_out: float
) -> float:
    """Concerns per second through a bare consume -> fan out -> produce loop."""
    async with throwaway_topics(bootstrap_servers) as (source, sink):
        return await _pass_through(
            bootstrap_servers, source, sink, count=count, in_size=in_size,
            out_size=out_size, fan_out=fan_out,
        )  # fmt: skip


@contextlib.asynccontextmanager
async def throwaway_topics(bootstrap_servers: str) -> AsyncIterator[tuple[str, str]]:
    """Two fresh topics with the pipeline's partition counts (in, out); deleted afterwards."""
    run = uuid.uuid4().hex[:8]
    source, sink = f"bench.{run}.in", f"bench.{run}.out"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([
            NewTopic(source, TOPICS[Topic.CONCERNS_RECEIVED], 1),
            NewTopic(sink, TOPICS[Topic.NOTIFICATIONS_ROUTED], 1),
        ])  # fmt: skip
        try:
            yield source, sink
        finally:
            with contextlib.suppress(Exception):
                await admin.delete_topics([source, sink])
    finally:
        await admin.close()


async def _pass_through(
    servers: str, source: str, sink: str, *, count: int, in_size: int, out_size: int,
    fan_out: float,
) -> float:  # fmt: skip
    producer = AIOKafkaProducer(
        bootstrap_servers=servers, acks="all", enable_idempotence=True, linger_ms=2
    )
    await producer.start()
    try:
        value = b"x" * in_size
        sent = [await producer.send(source, value, key=str(i).encode()) for i in range(count)]
        await asyncio.gather(*sent)
        consumer = AIOKafkaConsumer(
            source, bootstrap_servers=servers, group_id=f"{source}.group",
            auto_offset_reset="earliest", enable_auto_commit=False,
        )  # fmt: skip
        await consumer.start()
        try:
            return await _forward(consumer, producer, sink, count, out_size, fan_out)
        finally:
            await consumer.stop()
    finally:
        await producer.stop()


async def _forward(
    consumer: AIOKafkaConsumer, producer: AIOKafkaProducer, sink: str, count: int,
    out_size: int, fan_out: float,
) -> float:  # fmt: skip
    out = b"y" * out_size
    consumed, owed, started = 0, 0.0, 0.0
    deadline = time.monotonic() + 120 + count / 100
    while consumed < count and time.monotonic() < deadline:
        batches = await consumer.getmany(timeout_ms=500, max_records=2000)
        pending = []
        for records in batches.values():
            for record in records:
                if not started:
                    started = time.perf_counter()
                owed += fan_out
                while owed >= 1:
                    owed -= 1
                    pending.append(await producer.send(sink, out, key=record.key))
                consumed += 1
        if pending:
            await asyncio.gather(*pending)
            await consumer.commit()
    if consumed == 0:
        return 0.0
    return consumed / max(time.perf_counter() - started, 1e-9)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def bare_http(bodies: list[dict[str, Any]], *, rate: float) -> OpenLoopRun:
    """The same bodies, open loop at the same rate, to a bare endpoint in its own process."""
    async with bare_server() as url, make_client() as client:
        return await open_loop(client, f"{url}/v1/concerns", bodies, rate=rate)


@contextlib.asynccontextmanager
async def bare_server() -> AsyncIterator[str]:
    """`bench.bare` running in its own uvicorn process; its URL once it is ready."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.bare", str(port),
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        await wait_ready(url, server)
        yield url
    finally:
        await stop_process(server)


async def stop_process(process: asyncio.subprocess.Process) -> None:
    """Terminate a process this benchmark started, killing it after 10 s."""
    if process.returncode is None:
        process.terminate()
    try:
        await asyncio.wait_for(process.wait(), timeout=10)
    except TimeoutError:
        process.kill()
        await process.wait()


async def wait_ready(url: str, server: asyncio.subprocess.Process) -> None:
    """Wait until the server at `url` answers /readyz, failing if it exits or 30 s pass."""
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            if server.returncode is not None:
                raise RuntimeError("The bare endpoint exited before it was ready")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{url}/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError("The bare endpoint did not become ready in 30 s")
